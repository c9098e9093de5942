use lambda_runtime::{service_fn, LambdaEvent};
use order_generator::Generator;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_support::init_logging();
    let config = lambda_support::sdk_config()?;
    let generator = Generator::from_env(&config)?;
    let generator = &generator;
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            let order = generator.generate(&mut fastrand::Rng::new()).await?;
            Ok::<_, lambda_runtime::Error>(order)
        },
    ))
    .await
}
