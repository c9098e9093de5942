//! Names read out of ARNs.

pub(super) fn function_name(arn: &str) -> &str {
    arn.rsplit_once(":function:")
        .map(|(_, rest)| rest.split(':').next().unwrap_or(rest))
        .unwrap_or(arn)
}

/// The last part of an ARN, for the console.
pub fn short(arn: &str) -> &str {
    arn.rsplit([':', '/']).next().unwrap_or(arn)
}
