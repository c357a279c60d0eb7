/*
description: >
  The sales KPIs agreed with the business, per month: revenue, margin, units, return rate,
  stock-out rate (share of the SKU-location-days with an inventory snapshot that were out of
  stock; null where no stock is known) and days of inventory on hand at month end.
  Grain: one row per month.
owner: team:data
tests:
  - unique: [month]
  - not_null: [month, revenue, units_sold]
  - expression:
      name: stock_out_rate_is_a_share
      sql: "stock_out_rate is null or stock_out_rate between 0 and 1"
*/
with lines as (
    select
        date_trunc('month', sales.order_date)::date as month,
        sales.quantity,
        sales.net_amount,
        sales.quantity * products.unit_cost as cost
    from staging.sales_lines as sales
    left join staging.products as products using (sku)
),

sales as (
    select
        month,
        sum(net_amount) as revenue,
        sum(net_amount) - sum(cost) as margin,
        sum(quantity) as units_sold
    from lines
    group by all
),

returns as (
    select date_trunc('month', order_date)::date as month, sum(units_returned) as units_returned
    from staging.sales_returns
    group by all
),

-- From the snapshots themselves, not from marts.sales_daily: that table keeps a day only when
-- something happened (a sale, a return, a stock-out), so its in-stock days without a sale are
-- missing and a rate over its rows would overstate stock-outs.
stock as (
    select
        date_trunc('month', snapshot_date)::date as month,
        avg(case when is_stocked_out then 1.0 else 0.0 end)
            filter (where is_stocked_out is not null) as stock_out_rate
    from staging.inventory_snapshots
    group by all
),

month_end_stock as (
    select
        date_trunc('month', snapshot_date)::date as month,
        sum(on_hand_units) as on_hand_units
    from staging.inventory_snapshots
    where snapshot_date = last_day(snapshot_date)
    group by all
),

final as (
    select
        sales.month,
        sales.revenue,
        sales.margin,
        sales.margin / nullif(sales.revenue, 0) as margin_rate,
        sales.units_sold,
        coalesce(returns.units_returned, 0) as units_returned,
        coalesce(returns.units_returned, 0) / nullif(sales.units_sold, 0) as return_rate,
        stock.stock_out_rate,
        month_end_stock.on_hand_units
            / nullif(sales.units_sold / day(last_day(sales.month)), 0) as days_of_inventory
    from sales
    left join returns using (month)
    left join stock using (month)
    left join month_end_stock using (month)
    order by sales.month
)

select * from final
