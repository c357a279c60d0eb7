/*
description: >
  Lines that are neither sales nor returns (write-offs, adjustments, fees), kept for finance.
  Grain: one row per order line (order_id, line_number) of another type.
owner: team:data
tests:
  - unique: [order_id, line_number]
  - accepted_values: {column: line_type, values: [write_off, adjustment, fee]}
*/
with source as (
    select * from raw.sales_lines
    where line_type not in ('sale', 'return', 'cancellation')
),

final as (
    select
        order_id,
        line_number,
        line_type,
        ordered_at::date as order_date,
        sku,
        quantity,
        quantity * unit_price as amount,
        _source_file,
        _source_row
    from source
)

select * from final
