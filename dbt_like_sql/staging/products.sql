/*
description: >
  Products with their category and costs. Grain: one row per SKU.
owner: team:data
tests:
  - not_null: [sku]
  - unique: [sku]
  - expression:
      name: cost_not_above_list_price
      sql: "unit_cost is null or list_price is null or unit_cost <= list_price"
      severity: warn
*/
with source as (
    select * from raw.products
),

final as (
    select
        sku,
        product_name,
        coalesce(category, 'uncategorised') as category,
        subcategory,
        unit_cost,
        list_price,
        launched_on,
        discontinued_on,
        discontinued_on is not null as is_discontinued
    from source
)

select * from final
