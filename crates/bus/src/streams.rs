//! JetStream streams: one per producing service, plus `DEADLETTER`.

use std::time::Duration;

use async_nats::jetstream::{self, stream};

use crate::BusError;

/// Window in which JetStream drops a message whose `Nats-Msg-Id` it has already stored.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);
/// Name of the stream holding dead letters.
pub const DEADLETTER_STREAM: &str = "DEADLETTER";
/// Prefix of dead-letter subjects: `cep.deadletter.<consumer>.<original subject>`.
pub const DEADLETTER_SUBJECT_PREFIX: &str = "cep.deadletter";

/// What a stream must look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamSpec {
    /// Stream name, e.g. `BENEFICIARIES`.
    pub name: String,
    /// Subjects it captures, e.g. `cep.beneficiaries.>`.
    pub subjects: Vec<String>,
    /// Replicas: 1 on a single server, 3 in Kubernetes.
    pub replicas: usize,
    /// How long the stream keeps a message; zero: no limit. Event payloads may hold
    /// personal data, so producing services bound it (an erasure is complete on the
    /// bus once its older facts have aged out).
    pub max_age: Duration,
}

impl StreamSpec {
    /// A stream over the given subjects.
    pub fn new(
        name: impl Into<String>,
        subjects: impl IntoIterator<Item = impl Into<String>>,
        replicas: usize,
    ) -> Self {
        StreamSpec {
            name: name.into(),
            subjects: subjects.into_iter().map(Into::into).collect(),
            replicas,
            max_age: Duration::ZERO,
        }
    }

    /// The same stream keeping each message at most `max_age`.
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }
}

/// The `DEADLETTER` stream over `cep.deadletter.>`, keeping each dead letter `max_age`
/// (zero: for ever). Dead letters hold the original payloads, personal data included:
/// bound it like the service streams, long enough for an operator to act.
#[must_use]
pub fn deadletter_stream_spec(replicas: usize, max_age: Duration) -> StreamSpec {
    StreamSpec::new(
        DEADLETTER_STREAM,
        [format!("{DEADLETTER_SUBJECT_PREFIX}.>")],
        replicas,
    )
    .with_max_age(max_age)
}

/// Creates the `DEADLETTER` stream or updates it to `replicas` and `max_age`: run by
/// the platform at start-up, like a service's own stream, so that its settings do not
/// depend on which consumer starts first. Consumers never create it: while it is
/// missing, dead-lettering fails and the message is redelivered later, never dropped.
///
/// # Errors
///
/// [`BusError::Stream`] as for [`ensure_stream`].
pub async fn ensure_deadletter_stream(
    js: &jetstream::Context,
    replicas: usize,
    max_age: Duration,
) -> Result<(), BusError> {
    ensure_stream(js, &deadletter_stream_spec(replicas, max_age)).await
}

/// The subject a consumer dead-letters a message of `original_subject` to:
/// `cep.deadletter.<consumer>.<original subject>`.
#[must_use]
pub fn deadletter_subject(consumer: &str, original_subject: &str) -> String {
    format!("{DEADLETTER_SUBJECT_PREFIX}.{consumer}.{original_subject}")
}

/// Creates the stream or updates it to the spec (file storage, limits retention,
/// duplicate window [`DUPLICATE_WINDOW`]); running it again changes nothing.
///
/// # Errors
///
/// [`BusError::Stream`] when JetStream refuses (e.g. subjects overlapping another
/// stream, more replicas than servers) or cannot be reached.
pub async fn ensure_stream(js: &jetstream::Context, spec: &StreamSpec) -> Result<(), BusError> {
    js.create_or_update_stream(stream_config(spec))
        .await
        .map_err(|e| BusError::Stream {
            stream: spec.name.clone(),
            source: Box::new(e),
        })?;
    tracing::debug!(stream = %spec.name, "stream ensured");
    Ok(())
}

/// The JetStream configuration of a spec.
fn stream_config(spec: &StreamSpec) -> stream::Config {
    stream::Config {
        name: spec.name.clone(),
        subjects: spec.subjects.clone(),
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        num_replicas: spec.replicas.max(1),
        duplicate_window: DUPLICATE_WINDOW,
        max_age: spec.max_age,
        ..Default::default()
    }
}
