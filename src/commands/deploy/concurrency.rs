//! The account's Lambda concurrency, checked before the functions reserve
//! any of it.

use aws_sdk_cloudformation::types::Stack;

use super::error::{Error, MIN_UNRESERVED};
use crate::stack::functions;

/// Stops before any change, with the ways out, when the functions'
/// reserved concurrency would leave the account fewer than
/// [`MIN_UNRESERVED`] unreserved executions: CloudFormation would fail the
/// function and roll the whole stack back. What the stack's functions
/// already reserve is counted as theirs.
pub async fn check_concurrency(
    lambda: &aws_sdk_lambda::Client,
    cloudformation: &aws_sdk_cloudformation::Client,
    existing: Option<&Stack>,
    region: &str,
) -> Result<(), Error> {
    let reserving: Vec<_> = functions::ALL
        .iter()
        .filter_map(|f| Some((f, i64::from(f.reserved_concurrency?))))
        .collect();
    if reserving.is_empty() {
        return Ok(());
    }
    let settings = lambda
        .get_account_settings()
        .send()
        .await
        .map_err(|e| Error::AccountSettings(crate::aws::error::text(&e)))?;
    let Some(limit) = settings.account_limit() else {
        return Err(Error::AccountSettings(
            "the answer has no AccountLimit".into(),
        ));
    };
    let unreserved = i64::from(limit.unreserved_concurrent_executions().unwrap_or_default());
    let mut extra = 0;
    for (function, wanted) in &reserving {
        let held = match existing.and_then(|s| s.stack_id()) {
            Some(stack_id) => held_reservation(lambda, cloudformation, stack_id, function).await,
            None => 0,
        };
        extra += (wanted - held).max(0);
    }
    let left = unreserved - extra;
    if extra > 0 && left < MIN_UNRESERVED {
        return Err(Error::ConcurrencyTooLow {
            region: region.to_owned(),
            unreserved,
            quota: i64::from(limit.concurrent_executions()),
            extra,
            left,
            functions: reserving
                .iter()
                .map(|(f, n)| format!("{} ({n})", f.package))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(())
}

/// The reservation a deployed function of the stack already holds (0 when
/// it has none or cannot be found: the check then errs on the safe side).
pub(super) async fn held_reservation(
    lambda: &aws_sdk_lambda::Client,
    cloudformation: &aws_sdk_cloudformation::Client,
    stack_id: &str,
    function: &functions::FunctionSpec,
) -> i64 {
    let Ok(resource) = cloudformation
        .describe_stack_resource()
        .stack_name(stack_id)
        .logical_resource_id(function.logical_id)
        .send()
        .await
    else {
        return 0;
    };
    let Some(name) = resource
        .stack_resource_detail()
        .and_then(|d| d.physical_resource_id())
    else {
        return 0;
    };
    lambda
        .get_function_concurrency()
        .function_name(name)
        .send()
        .await
        .ok()
        .and_then(|c| c.reserved_concurrent_executions())
        .map_or(0, i64::from)
}
