/*
description: >
  List and promotional prices with their validity intervals. Grain: one row per SKU, price
  type and valid_from date.
owner: team:data
tests:
  - unique: [sku, price_type, valid_from]
  - expression: {name: valid_to_after_valid_from, sql: "valid_to is null or valid_to > valid_from"}
*/
with source as (
    select * from raw.prices
),

final as (
    select
        sku,
        price_type,
        valid_from,
        lead(valid_from) over (partition by sku, price_type order by valid_from) as valid_to,
        unit_price
    from source
)

select * from final
