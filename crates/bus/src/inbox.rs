//! The `inbox` table: the message ids each consumer applied, kept as long as the
//! message could be delivered again.

use std::time::Duration;

use sqlx::PgPool;

use crate::BusError;

/// Rows deleted per statement, so that pruning a large inbox never holds many locks.
const PRUNE_CHUNK: i64 = 5000;

/// Deletes `consumer`'s inbox rows recorded at least `older_than` ago (by the
/// database's clock) and returns how many.
///
/// Safe once `older_than` exceeds the max age of the stream the consumer reads: the
/// message has left the stream and cannot be redelivered. The [`crate::Consumer`] runs
/// it periodically with that bound (see [`crate::ConsumerSpec::inbox_retention`]).
/// Per consumer, because the streams one database consumes may keep messages for
/// different times.
///
/// # Errors
///
/// [`BusError::Database`] when a delete fails (the rows deleted before are gone).
pub async fn prune_inbox(
    pool: &PgPool,
    consumer: &str,
    older_than: Duration,
) -> Result<u64, BusError> {
    let mut total = 0;
    loop {
        let done = sqlx::query(
            "delete from inbox where (consumer, message_id) in ( \
                 select consumer, message_id from inbox \
                 where consumer = $1 and received_at <= now() - make_interval(secs => $2) \
                 limit $3)",
        )
        .bind(consumer)
        .bind(older_than.as_secs_f64())
        .bind(PRUNE_CHUNK)
        .execute(pool)
        .await?;
        total += done.rows_affected();
        if done.rows_affected() < u64::try_from(PRUNE_CHUNK).unwrap_or(u64::MAX) {
            return Ok(total);
        }
    }
}
