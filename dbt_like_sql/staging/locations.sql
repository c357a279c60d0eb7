/*
description: >
  Stores and warehouses. Grain: one row per location.
owner: team:data
tests:
  - not_null: [location_id]
  - unique: [location_id]
*/
with source as (
    select * from raw.locations
),

final as (
    select location_id, location_name, location_type, region, country, opened_on
    from source
)

select * from final
