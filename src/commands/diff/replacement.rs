//! Which property changes make CloudFormation replace a resource: the
//! `createOnlyProperties` of each resource type's registry schema, for the
//! types this stack uses (as cfn-lint ships the schemas; a test checks this
//! table against them), and which types hold data.

/// `createOnlyProperties` per resource type, from the registry schemas.
pub const CREATE_ONLY: &[(&str, &[&str])] = &[
    ("AWS::CloudWatch::Alarm", &["AlarmName"]),
    (
        "AWS::DynamoDB::Table",
        &["TableName", "ImportSourceSpecification"],
    ),
    ("AWS::Events::EventBus", &["Name"]),
    ("AWS::Events::Rule", &["Name"]),
    ("AWS::IAM::Role", &["Path", "RoleName"]),
    ("AWS::KMS::Key", &[]),
    (
        "AWS::Lambda::EventSourceMapping",
        &[
            "EventSourceArn",
            "StartingPosition",
            "StartingPositionTimestamp",
            "SelfManagedEventSource",
        ],
    ),
    (
        "AWS::Lambda::Function",
        &["FunctionName", "PackageType", "TenancyConfig"],
    ),
    (
        "AWS::Lambda::Permission",
        &[
            "FunctionName",
            "FunctionUrlAuthType",
            "InvokedViaFunctionUrl",
            "SourceAccount",
            "SourceArn",
            "Principal",
            "PrincipalOrgID",
            "Action",
            "EventSourceToken",
        ],
    ),
    ("AWS::Lambda::Url", &["TargetFunctionArn", "Qualifier"]),
    ("AWS::Logs::LogGroup", &["LogGroupName"]),
    (
        "AWS::SNS::Subscription",
        &["Endpoint", "Protocol", "TopicArn"],
    ),
    ("AWS::SNS::Topic", &["TopicName", "FifoTopic"]),
    ("AWS::SQS::Queue", &["FifoQueue", "QueueName"]),
    ("AWS::SQS::QueuePolicy", &[]),
    ("AWS::Scheduler::Schedule", &["Name"]),
    (
        "AWS::StepFunctions::StateMachine",
        &["StateMachineName", "StateMachineType"],
    ),
];

/// Replacements the schemas leave out and CloudFormation's resource
/// reference states ("Update requires: Replacement").
pub const DOCUMENTED: &[(&str, &[&str])] = &[("AWS::DynamoDB::Table", &["KeySchema"])];

/// The types whose resources hold data that a replacement or removal loses.
pub const STATEFUL: &[&str] = &["AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::KMS::Key"];

pub fn is_stateful(resource_type: &str) -> bool {
    STATEFUL.contains(&resource_type)
}

/// Whether changing `path` (`Properties.Name...`) of a `resource_type`
/// replaces it. A type this table does not know is taken at its word: an
/// unknown replacement is not claimed.
pub fn replaces(resource_type: &str, path: &str) -> bool {
    let Some(property) = path.strip_prefix("Properties.") else {
        return false;
    };
    let top = property.split(['.', '[']).next().unwrap_or(property);
    CREATE_ONLY
        .iter()
        .chain(DOCUMENTED)
        .filter(|(kind, _)| *kind == resource_type)
        .any(|(_, properties)| properties.contains(&top))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_only_properties_replace_and_others_do_not() {
        assert!(replaces("AWS::DynamoDB::Table", "Properties.TableName"));
        assert!(replaces(
            "AWS::DynamoDB::Table",
            "Properties.KeySchema[0].KeyType"
        ));
        assert!(!replaces("AWS::DynamoDB::Table", "Properties.BillingMode"));
        assert!(!replaces("AWS::DynamoDB::Table", "DeletionPolicy"));
        assert!(replaces("AWS::SNS::Subscription", "Properties.Endpoint"));
        assert!(!replaces("AWS::Nope::Thing", "Properties.Name"));
        assert!(is_stateful("AWS::SQS::Queue") && !is_stateful("AWS::SNS::Topic"));
    }
}
