/*
description: >
  Units and revenue sold per SKU, location and day, one row for each day on which something
  happened to the pair: a sale, a return, or an inventory snapshot showing it stocked out. Sparse:
  a day without a row had no sale, no return and no known stock-out (no zero-filled rows, so the
  table grows with the sales lines, not with SKUs x locations x days; the feature store fills in
  the zeros for the series it forecasts). on_hand_units and is_stocked_out come from the day's
  snapshot (null where there is none, e.g. a company without inventory exports). Zero sales on a
  stocked-out day are censored demand, not zero demand.
  Grain: one row per SKU, location and day with a sale, a return or a stock-out.
owner: team:data
# A night rebuilds only the days its staging inputs rebuilt.
materialization: incremental
incremental:
  time_column: sales_date
  unique_key: [sku, location_id, sales_date]
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
    where order_date between {{ start_date }} and {{ end_date }}
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
    where order_date between {{ start_date }} and {{ end_date }}
    group by all
),

stock as (
    select snapshot_date as sales_date, location_id, sku, on_hand_units, is_stocked_out
    from staging.inventory_snapshots
    where snapshot_date between {{ start_date }} and {{ end_date }}
),

-- The days that get a row. An in-stock snapshot without a sale or a return adds none: the
-- absent row already says "no sale", and stock levels are in staging.inventory_snapshots.
event_days as (
    select sku, location_id, sales_date from sales
    union
    select sku, location_id, sales_date from returns
    union
    select sku, location_id, sales_date from stock where is_stocked_out
),

final as (
    select
        event_days.sku,
        event_days.location_id,
        event_days.sales_date,
        coalesce(sales.units_sold, 0) as units_sold,
        coalesce(sales.revenue, 0) as revenue,
        coalesce(sales.orders, 0) as orders,
        coalesce(returns.units_returned, 0) as units_returned,
        coalesce(returns.refunds, 0) as refunds,
        coalesce(sales.on_promotion, false) as on_promotion,
        stock.on_hand_units,
        stock.is_stocked_out
    from event_days
    left join sales using (sku, location_id, sales_date)
    left join returns using (sku, location_id, sales_date)
    left join stock using (sku, location_id, sales_date)
)

select * from final
