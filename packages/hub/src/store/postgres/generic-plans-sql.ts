/**
 * Migration 21 (issue 28): ferry_commit_lean plans its statements once per connection, not at
 * every call.
 *
 * Why: PL/pgSQL caches each statement's plan, but with parameters (here the group's arrays) it
 * makes a custom plan per call while the generic one is not estimated cheaper; for the hot path's
 * CTEs (window functions, LATERAL lookups, the history's CASE) that meant planning them again at
 * every group commit. At a paced 1,000 messages/s a group holds two or three ops, so the planning
 * was most of the call: pg_stat_statements gave ferry_commit_lean 1.80 ms per call with the
 * default plan_cache_mode and 1.05 ms with force_generic_plan (the statements inside it took the
 * same time: the difference is planning), and the bench's p50 / p99 send → device went from
 * 4.6–6.1 / 13.4–22.3 ms to 3.8 / 11.2 ms (docs/postgres.md). The generic plans are the ones
 * migration 20 was written for (its LATERAL lookups do not depend on the arrays' estimated
 * sizes): the fan-out, 80–200 ops a group, ran at the same speed with either mode.
 *
 * The setting is the function's own (a SET clause: in force while it runs, restored after), so
 * no other query of the hub's connections plans differently.
 */
export const GENERIC_PLANS_SQL = 'ALTER FUNCTION ferry_commit_lean SET plan_cache_mode = force_generic_plan;\n';
