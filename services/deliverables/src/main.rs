//! `deliverables serve | migrate | check-config | outbox …`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cep_runtime::main::<deliverables::Deliverables>().await
}
