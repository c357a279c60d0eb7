/*
description: >
  Products with lifetime sales figures. Grain: one row per SKU.
owner: team:data
tests:
  - unique: [sku]
  - not_null: [sku, category]
*/
with sales as (
    select sku, sum(quantity) as units_sold, sum(net_amount) as revenue, min(order_date) as first_sold_on
    from staging.sales_lines
    group by all
),

final as (
    select
        products.*,
        coalesce(sales.units_sold, 0) as lifetime_units_sold,
        coalesce(sales.revenue, 0) as lifetime_revenue,
        sales.first_sold_on
    from staging.products as products
    left join sales using (sku)
)

select * from final
