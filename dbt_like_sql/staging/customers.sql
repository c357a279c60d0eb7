/*
description: >
  Customers with contact details (PII). Grain: one row per customer.
owner: team:data
pii:
  customer_name: redact
  email: hash
  phone: redact
tests:
  - not_null: [customer_id]
  - unique: [customer_id]
*/
with source as (
    select * from raw.customers
),

final as (
    select
        customer_id,
        customer_name,
        lower(email) as email,
        phone,
        coalesce(segment, 'unknown') as segment,
        city,
        country,
        created_on
    from source
)

select * from final
