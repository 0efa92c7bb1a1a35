//! `claims serve | migrate | check-config | outbox …`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    cep_runtime::main::<claims::Claims>().await
}
