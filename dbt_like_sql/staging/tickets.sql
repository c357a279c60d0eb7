/*
description: >
  Support tickets with response and resolution durations. Grain: one row per ticket.
owner: team:support
pii:
  subject: redact
  body: redact
tests:
  - not_null: [ticket_id, opened_at]
  - unique: [ticket_id]
  - expression:
      name: first_response_not_before_opening
      sql: "first_response_at is null or first_response_at >= opened_at"
      severity: warn
*/
with source as (
    select * from raw.tickets
),

final as (
    select
        ticket_id,
        opened_at,
        opened_at::date as opened_on,
        customer_id,
        channel,
        category,
        subcategory,
        priority,
        subject,
        body,
        assigned_team,
        status,
        first_response_at,
        resolved_at,
        closed_at,
        date_diff('second', opened_at, first_response_at) / 3600.0 as first_response_hours,
        date_diff('second', opened_at, resolved_at) / 3600.0 as resolution_hours,
        coalesce(reassignment_count, 0) as reassignment_count,
        coalesce(reopen_count, 0) as reopen_count,
        resolved_at is not null
            and coalesce(reassignment_count, 0) = 0
            and coalesce(reopen_count, 0) = 0 as resolved_at_first_contact,
        sla_met
    from source
)

select * from final
