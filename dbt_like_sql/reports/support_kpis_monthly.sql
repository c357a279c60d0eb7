/*
description: >
  The support KPIs per month: tickets opened, median hours to first response and to
  resolution, first-contact resolution rate and SLA attainment. Grain: one row per month.
owner: team:support
tests:
  - unique: [month]
  - expression:
      name: first_contact_resolution_is_a_share
      sql: "first_contact_resolution_rate is null or first_contact_resolution_rate between 0 and 1"
*/
with final as (
    select
        date_trunc('month', opened_on)::date as month,
        count(*) as tickets_opened,
        median(first_response_hours) as median_first_response_hours,
        median(resolution_hours) as median_resolution_hours,
        avg(case when resolved_at_first_contact then 1.0 else 0.0 end)
            filter (where resolved_at is not null) as first_contact_resolution_rate,
        avg(case when sla_met then 1.0 else 0.0 end)
            filter (where sla_met is not null) as sla_met_rate
    from marts.tickets
    group by all
    order by month
)

select * from final
