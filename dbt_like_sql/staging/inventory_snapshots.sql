/*
description: >
  End-of-day stock per location and SKU. Grain: one row per snapshot date, location and SKU.
owner: team:data
tests:
  - not_null: [snapshot_date, location_id, sku]
  - unique: [snapshot_date, location_id, sku]
  - expression: {name: on_hand_not_negative, sql: "on_hand_units >= 0", severity: warn}
*/
with source as (
    select * from raw.inventory_snapshots
),

final as (
    select
        snapshot_date,
        location_id,
        sku,
        on_hand_units,
        coalesce(on_order_units, 0) as on_order_units,
        on_hand_units <= 0 as is_stocked_out
    from source
)

select * from final
