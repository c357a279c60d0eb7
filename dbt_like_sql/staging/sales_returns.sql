/*
description: >
  Returns and cancellations from raw.sales_lines, quantities as positive units taken back.
  Grain: one row per order line (order_id, line_number) of type return or cancellation.
owner: team:data
materialization: incremental
incremental:
  time_column: order_date
  unique_key: [order_id, line_number]
  input_time:
    raw.sales_lines: ordered_at::date
tests:
  - not_null: [order_id, line_number, order_date]
  - unique: [order_id, line_number]
  - accepted_values: {column: line_type, values: [return, cancellation]}
*/
with source as (
    select * from raw.sales_lines
    where line_type in ('return', 'cancellation')
        and ordered_at::date between {{ start_date }} and {{ end_date }}
),

final as (
    select
        order_id,
        line_number,
        line_type,
        ordered_at,
        ordered_at::date as order_date,
        coalesce(location_id, 'unassigned') as location_id,
        customer_id,
        sku,
        abs(quantity) as units_returned,
        abs(quantity) * unit_price * (1 - coalesce(discount_pct, 0) / 100) as refund_amount,
        _source_file,
        _source_row
    from source
)

select * from final
