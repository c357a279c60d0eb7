/*
description: >
  End-of-day stock per location and SKU. Grain: one row per snapshot date, location and SKU.
owner: team:data
materialization: incremental
incremental:
  time_column: snapshot_date
  unique_key: [snapshot_date, location_id, sku]
  input_time:
    raw.inventory_snapshots: snapshot_date
tests:
  - not_null: [snapshot_date, location_id, sku]
  - unique: [snapshot_date, location_id, sku]
  - expression: {name: on_hand_not_negative, sql: "on_hand_units >= 0", severity: warn}
*/
with source as (
    select * from raw.inventory_snapshots
    where snapshot_date between {{ start_date }} and {{ end_date }}
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
