/*
description: >
  The latest stock position per location and SKU, with the units sold per day over the 28 days
  before it and the days of inventory on hand that rate gives.
  Grain: one row per location and SKU.
owner: team:data
tests:
  - unique: [location_id, sku]
  - not_null: [location_id, sku, snapshot_date]
*/
with latest as (
    select * from staging.inventory_snapshots
    qualify snapshot_date = max(snapshot_date) over (partition by location_id, sku)
),

-- marts.sales_daily is sparse (a day without a row sold nothing), so summing its rows over the
-- 28 days and dividing by 28 gives the same rate as a zero-filled calendar would.
recent_sales as (
    select
        daily.location_id,
        daily.sku,
        sum(daily.units_sold) / 28.0 as units_per_day
    from marts.sales_daily as daily
    join latest
        on daily.location_id = latest.location_id
        and daily.sku = latest.sku
        and daily.sales_date > latest.snapshot_date - interval 28 day
        and daily.sales_date <= latest.snapshot_date
    group by all
),

final as (
    select
        latest.location_id,
        latest.sku,
        latest.snapshot_date,
        latest.on_hand_units,
        latest.on_order_units,
        latest.is_stocked_out,
        coalesce(recent_sales.units_per_day, 0) as units_per_day,
        case
            when coalesce(recent_sales.units_per_day, 0) > 0
                then latest.on_hand_units / recent_sales.units_per_day
        end as days_of_inventory
    from latest
    left join recent_sales using (location_id, sku)
)

select * from final
