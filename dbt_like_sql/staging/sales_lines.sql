/*
description: >
  Sale lines from raw.sales_lines, typed and deduplicated, with net amounts. Returns,
  cancellations and other line types are split out into sales_returns and sales_adjustments.
  Grain: one row per order line (order_id, line_number) of type sale.
owner: team:data
# A night rebuilds only the order days of new, late or replaced files.
materialization: incremental
incremental:
  time_column: order_date
  unique_key: [order_id, line_number]
  input_time:
    raw.sales_lines: ordered_at::date
tests:
  - not_null: [order_id, line_number, order_date, sku]
  - unique: [order_id, line_number]
  - expression: {name: quantity_positive, sql: "quantity > 0"}
  - expression:
      name: net_amount_not_above_gross
      sql: "net_amount <= gross_amount"
  - relationships: {column: sku, to: staging.products, field: sku, severity: warn}
*/
with source as (
    select * from raw.sales_lines
    where line_type = 'sale'
        and ordered_at::date between {{ start_date }} and {{ end_date }}
),

-- A key loaded twice (possible only through changed_files: append) keeps its latest version.
deduplicated as (
    select * from source
    qualify row_number() over (
        partition by order_id, line_number order by _ingested_at desc, _source_row desc
    ) = 1
),

final as (
    select
        order_id,
        line_number,
        ordered_at,
        ordered_at::date as order_date,
        coalesce(location_id, 'unassigned') as location_id,
        customer_id,
        sku,
        quantity,
        unit_price,
        coalesce(discount_pct, 0) as discount_pct,
        promo_code,
        promo_code is not null as on_promotion,
        quantity * unit_price as gross_amount,
        quantity * unit_price * (1 - coalesce(discount_pct, 0) / 100) as net_amount,
        _source_file,
        _source_row
    from deduplicated
)

select * from final
