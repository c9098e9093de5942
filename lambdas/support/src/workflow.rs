//! Starting one workflow execution per queued item, and telling the caller
//! whether that item is done or must be retried.

use aws_sdk_sfn::error::DisplayErrorContext;
use aws_sdk_sfn::types::SyncExecutionStatus;

/// How executions are started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartMode {
    /// StartSyncExecution: the item counts as done only when the EXPRESS
    /// execution succeeded, so a failed one is retried by the event source
    /// (and ends in its dead-letter queue). The production mode.
    Sync,
    /// StartExecution: done once the execution is started. For emulators
    /// without StartSyncExecution (moto); an already-started execution of
    /// the same name counts as started.
    Async,
}

impl StartMode {
    /// From `START_MODE` (`sync`, the default, or `async`).
    pub fn from_env() -> Result<Self, crate::MissingEnv> {
        match std::env::var("START_MODE").as_deref() {
            Err(_) | Ok("") | Ok("sync") => Ok(StartMode::Sync),
            Ok("async") => Ok(StartMode::Async),
            Ok(_) => Err(crate::MissingEnv("START_MODE (sync or async)")),
        }
    }
}

/// Why an item was not processed; the item is reported as failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StartError {
    #[error("cannot start execution {name}: {message}")]
    Start { name: String, message: String },
    #[error("execution {name} ended {status}: {error}: {cause}")]
    Unsuccessful {
        name: String,
        status: String,
        error: String,
        cause: String,
    },
}

#[derive(Clone, Debug)]
pub struct WorkflowStarter {
    pub client: aws_sdk_sfn::Client,
    pub state_machine_arn: String,
    pub mode: StartMode,
}

impl WorkflowStarter {
    /// Runs (or starts) one execution named `name` with `input`.
    pub async fn start(&self, name: &str, input: String) -> Result<(), StartError> {
        let start_error = |message: String| StartError::Start {
            name: name.to_owned(),
            message,
        };
        match self.mode {
            StartMode::Async => {
                let result = self
                    .client
                    .start_execution()
                    .state_machine_arn(&self.state_machine_arn)
                    .name(name)
                    .input(input)
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_execution_already_exists()) =>
                    {
                        tracing::info!(execution = name, "already started: a redelivery");
                        Ok(())
                    }
                    Err(e) => Err(start_error(DisplayErrorContext(&e).to_string())),
                }
            }
            StartMode::Sync => {
                let output = self
                    .client
                    .start_sync_execution()
                    .state_machine_arn(&self.state_machine_arn)
                    .name(name)
                    .input(input)
                    .send()
                    .await
                    .map_err(|e| start_error(DisplayErrorContext(&e).to_string()))?;
                if output.status == SyncExecutionStatus::Succeeded {
                    Ok(())
                } else {
                    Err(StartError::Unsuccessful {
                        name: name.to_owned(),
                        status: output.status.as_str().to_owned(),
                        error: output.error.unwrap_or_default(),
                        cause: output.cause.unwrap_or_default(),
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::operation::start_execution::StartExecutionError;
    use aws_sdk_sfn::operation::start_sync_execution::{
        StartSyncExecutionError, StartSyncExecutionOutput,
    };
    use aws_sdk_sfn::types::error::ExecutionAlreadyExists;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    fn starter(client: aws_sdk_sfn::Client, mode: StartMode) -> WorkflowStarter {
        WorkflowStarter {
            client,
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:x".into(),
            mode,
        }
    }

    fn sync_result(status: SyncExecutionStatus) -> StartSyncExecutionOutput {
        StartSyncExecutionOutput::builder()
            .execution_arn("arn:aws:states:us-east-1:123456789012:express:x:n:1")
            .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
            .stop_date(aws_sdk_sfn::primitives::DateTime::from_secs(1))
            .status(status)
            .error("ReserveStock.Contended")
            .cause("kept conflicting")
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn a_succeeded_sync_execution_is_done() {
        let rule = mock!(aws_sdk_sfn::Client::start_sync_execution)
            .match_requests(|r| r.name() == Some("order-1") && r.input() == Some("{}"))
            .then_output(|| sync_result(SyncExecutionStatus::Succeeded));
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&rule]);
        assert_eq!(
            starter(client, StartMode::Sync)
                .start("order-1", "{}".into())
                .await,
            Ok(())
        );
        assert_eq!(rule.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_failed_sync_execution_is_retried_with_its_reason() {
        let rule = mock!(aws_sdk_sfn::Client::start_sync_execution)
            .then_output(|| sync_result(SyncExecutionStatus::Failed));
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&rule]);
        let error = starter(client, StartMode::Sync)
            .start("order-1", "{}".into())
            .await
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "execution order-1 ended FAILED: ReserveStock.Contended: kept conflicting"
        );
    }

    fn throttled() -> StartSyncExecutionError {
        StartSyncExecutionError::generic(
            aws_sdk_sfn::error::ErrorMetadata::builder()
                .code("ThrottlingException")
                .message("Rate exceeded")
                .build(),
        )
    }

    /// The starts a burst gets throttled on are retried with the workflow
    /// client's policy, so the item is done and not back in its queue.
    #[tokio::test]
    async fn a_throttled_start_is_tried_again_up_to_the_attempts_allowed() {
        let attempts = crate::WORKFLOW_START_ATTEMPTS as usize;
        let quick = || {
            crate::workflow_retry()
                .with_initial_backoff(std::time::Duration::from_millis(1))
                .with_max_backoff(std::time::Duration::from_millis(2))
        };
        let landing = mock!(aws_sdk_sfn::Client::start_sync_execution)
            .sequence()
            .error(throttled)
            .times(attempts - 1)
            .output(|| sync_result(SyncExecutionStatus::Succeeded))
            .build();
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&landing], |c| c
            .retry_config(quick()));
        assert_eq!(
            starter(client, StartMode::Sync)
                .start("order-1", "{}".into())
                .await,
            Ok(())
        );
        assert_eq!(landing.num_calls(), attempts);

        let never = mock!(aws_sdk_sfn::Client::start_sync_execution)
            .sequence()
            .error(throttled)
            .times(attempts + 1)
            .build();
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&never], |c| c
            .retry_config(quick()));
        let error = starter(client, StartMode::Sync)
            .start("order-1", "{}".into())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("Rate exceeded"), "{error}");
        assert_eq!(never.num_calls(), attempts);
    }

    #[tokio::test]
    async fn an_execution_already_started_counts_as_started() {
        let rule = mock!(aws_sdk_sfn::Client::start_execution).then_error(|| {
            StartExecutionError::ExecutionAlreadyExists(
                ExecutionAlreadyExists::builder().message("exists").build(),
            )
        });
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&rule]);
        assert_eq!(
            starter(client, StartMode::Async)
                .start("order-1", "{}".into())
                .await,
            Ok(())
        );
    }

    #[tokio::test]
    async fn other_start_errors_are_reported() {
        let rule = mock!(aws_sdk_sfn::Client::start_execution).then_error(|| {
            StartExecutionError::StateMachineDoesNotExist(
                aws_sdk_sfn::types::error::StateMachineDoesNotExist::builder()
                    .message("gone")
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_sfn, RuleMode::Sequential, [&rule]);
        let error = starter(client, StartMode::Async)
            .start("order-1", "{}".into())
            .await
            .unwrap_err();
        assert!(error.to_string().contains("gone"), "{error}");
    }
}
