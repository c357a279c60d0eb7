/*
description: >
  Units and revenue sold per SKU, location and day, zero-filled from each pair's first sale or
  stock record to the last day in the data, with the day's stock-out flag (null where no
  inventory snapshot exists, e.g. a company without inventory exports). Zero sales on a
  stocked-out day are censored demand, not zero demand.
  Grain: one row per SKU, location and day.
owner: team:data
tests:
  - not_null: [sku, location_id, sales_date, units_sold]
  - unique: [sku, location_id, sales_date]
  - expression: {name: units_not_negative, sql: "units_sold >= 0 and units_returned >= 0"}
  - relationships: {column: sku, to: marts.products, field: sku, severity: warn}
*/
with sales as (
    select
        sku,
        location_id,
        order_date as sales_date,
        sum(quantity) as units_sold,
        sum(net_amount) as revenue,
        count(distinct order_id) as orders,
        bool_or(on_promotion) as on_promotion
    from staging.sales_lines
    group by all
),

returns as (
    select
        sku,
        location_id,
        order_date as sales_date,
        sum(units_returned) as units_returned,
        sum(refund_amount) as refunds
    from staging.sales_returns
    group by all
),

stock as (
    select snapshot_date as sales_date, location_id, sku, on_hand_units, is_stocked_out
    from staging.inventory_snapshots
),

activity as (
    select sku, location_id, sales_date from sales
    union all
    select sku, location_id, sales_date from stock
),

pairs as (
    select sku, location_id, min(sales_date) as first_date
    from activity
    group by all
),

last_day as (
    select max(sales_date) as last_date from activity
),

grid as (
    select pairs.sku, pairs.location_id, day::date as sales_date
    from pairs
    cross join last_day
    cross join lateral unnest(
        generate_series(pairs.first_date, last_day.last_date, interval 1 day)
    ) as days(day)
),

final as (
    select
        grid.sku,
        grid.location_id,
        grid.sales_date,
        coalesce(sales.units_sold, 0) as units_sold,
        coalesce(sales.revenue, 0) as revenue,
        coalesce(sales.orders, 0) as orders,
        coalesce(returns.units_returned, 0) as units_returned,
        coalesce(returns.refunds, 0) as refunds,
        coalesce(sales.on_promotion, false) as on_promotion,
        stock.on_hand_units,
        stock.is_stocked_out
    from grid
    left join sales using (sku, location_id, sales_date)
    left join returns using (sku, location_id, sales_date)
    left join stock using (sku, location_id, sales_date)
)

select * from final
