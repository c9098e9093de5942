use approval::decide::Decider;
use aws_lambda_events::event::lambda_function_urls::LambdaFunctionUrlRequest;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_support::init_logging();
    let config = lambda_support::sdk_config()?;
    let decider = Decider {
        dynamodb: aws_sdk_dynamodb::Client::new(&config),
        sfn: aws_sdk_sfn::Client::new(&config),
        table: lambda_support::env("PURCHASE_ORDER_TABLE")?,
    };
    let decider = &decider;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<LambdaFunctionUrlRequest>| async move {
            Ok::<_, lambda_runtime::Error>(approval::page::handle(decider, event.payload).await)
        },
    ))
    .await
}
