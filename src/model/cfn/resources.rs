//! The CloudFormation resource types the inventory stack uses, one typed
//! struct each. Only the properties the stack needs are modelled; a property
//! that is not here cannot be set by accident with a misspelt key.

use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value as Json;

use super::iam::PolicyDocument;
use super::intrinsic::Val;

fn is_false(b: &bool) -> bool {
    !*b
}

// ---------------------------------------------------------------- EventBridge

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventBus {
    pub name: Val,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Rule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub event_bus_name: Val,
    pub event_pattern: Json,
    pub state: &'static str,
    pub targets: Vec<RuleTarget>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleTarget {
    pub id: String,
    pub arn: Val,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<Val>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dead_letter_config: Option<DeadLetterConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_policy: Option<TargetRetryPolicy>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeadLetterConfig {
    pub arn: Val,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetRetryPolicy {
    pub maximum_event_age_in_seconds: u32,
    pub maximum_retry_attempts: u32,
}

// ------------------------------------------------------------------------ SQS

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Queue {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_retention_period: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility_timeout: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redrive_policy: Option<RedrivePolicy>,
    /// SSE-SQS. EventBridge and Lambda can use it with no key policy to manage.
    pub sqs_managed_sse_enabled: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedrivePolicy {
    pub dead_letter_target_arn: Val,
    pub max_receive_count: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct QueuePolicy {
    pub queues: Vec<Val>,
    pub policy_document: PolicyDocument,
}

// ------------------------------------------------------------------------ KMS

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Key {
    pub description: String,
    pub enable_key_rotation: bool,
    pub key_policy: PolicyDocument,
}

// ----------------------------------------------------------------- CloudWatch

/// A metric alarm on one statistic of one metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Alarm {
    pub alarm_description: String,
    pub namespace: &'static str,
    pub metric_name: &'static str,
    pub dimensions: Vec<Dimension>,
    pub statistic: &'static str,
    pub period: u32,
    pub evaluation_periods: u32,
    pub threshold: f64,
    pub comparison_operator: &'static str,
    pub treat_missing_data: &'static str,
    pub alarm_actions: Vec<Val>,
    #[serde(rename = "OKActions")]
    pub ok_actions: Vec<Val>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    pub name: &'static str,
    pub value: Val,
}

// ------------------------------------------------------------------------ SNS

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Topic {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub kms_master_key_id: Val,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Subscription {
    pub topic_arn: Val,
    pub protocol: &'static str,
    pub endpoint: Val,
}

// ------------------------------------------------------------------- DynamoDB

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Table {
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeySchemaElement>,
    pub billing_mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_specification: Option<StreamSpecification>,
    pub point_in_time_recovery_specification: PointInTimeRecovery,
    #[serde(rename = "SSESpecification")]
    pub sse_specification: SseSpecification,
}

impl Table {
    /// An on-demand table keyed by one string attribute, with point-in-time
    /// recovery and server-side encryption.
    pub fn keyed_by_string(key: &str) -> Self {
        Table {
            attribute_definitions: vec![AttributeDefinition {
                attribute_name: key.to_owned(),
                attribute_type: "S",
            }],
            key_schema: vec![KeySchemaElement {
                attribute_name: key.to_owned(),
                key_type: "HASH",
            }],
            billing_mode: "PAY_PER_REQUEST",
            stream_specification: None,
            point_in_time_recovery_specification: PointInTimeRecovery {
                point_in_time_recovery_enabled: true,
            },
            sse_specification: SseSpecification { sse_enabled: true },
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttributeDefinition {
    pub attribute_name: String,
    pub attribute_type: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeySchemaElement {
    pub attribute_name: String,
    pub key_type: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamSpecification {
    pub stream_view_type: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PointInTimeRecovery {
    pub point_in_time_recovery_enabled: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SseSpecification {
    #[serde(rename = "SSEEnabled")]
    pub sse_enabled: bool,
}

// ------------------------------------------------------------------------ IAM

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Role {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub assume_role_policy_document: PolicyDocument,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<InlinePolicy>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct InlinePolicy {
    pub policy_name: String,
    pub policy_document: PolicyDocument,
}

// --------------------------------------------------------------------- Lambda

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Function {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub runtime: &'static str,
    pub handler: &'static str,
    pub architectures: Vec<String>,
    pub code: FunctionCode,
    pub role: Val,
    pub memory_size: u32,
    pub timeout: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_concurrent_executions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<Environment>,
    pub logging_config: LoggingConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FunctionCode {
    #[serde(rename = "S3Bucket")]
    pub s3_bucket: Val,
    #[serde(rename = "S3Key")]
    pub s3_key: Val,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Environment {
    pub variables: IndexMap<String, Val>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoggingConfig {
    pub log_format: &'static str,
    pub log_group: Val,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventSourceMapping {
    pub function_name: Val,
    pub event_source_arn: Val,
    pub batch_size: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_batching_window_in_seconds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_position: Option<&'static str>,
    pub function_response_types: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_criteria: Option<FilterCriteria>,
    #[serde(skip_serializing_if = "is_false")]
    pub bisect_batch_on_function_error: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maximum_retry_attempts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_config: Option<DestinationConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FilterCriteria {
    pub filters: Vec<Filter>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    /// The event pattern, as the JSON text Lambda expects.
    pub pattern: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationConfig {
    pub on_failure: OnFailure,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OnFailure {
    pub destination: Val,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Permission {
    pub action: &'static str,
    pub function_name: Val,
    pub principal: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub function_url_auth_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoked_via_function_url: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_arn: Option<Val>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FunctionUrl {
    pub target_function_arn: Val,
    pub auth_type: &'static str,
}

// ---------------------------------------------------------------------- Logs

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogGroup {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_group_name: Option<Val>,
    pub retention_in_days: u32,
}

// ------------------------------------------------------------- Step Functions

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateMachine {
    pub state_machine_name: Val,
    pub state_machine_type: &'static str,
    pub role_arn: Val,
    /// `Fn::Sub` of the ASL text: the form both AWS and the local emulator resolve.
    pub definition_string: Val,
    pub logging_configuration: StateMachineLogging,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateMachineLogging {
    pub level: &'static str,
    /// Off: execution data holds task tokens and order details.
    pub include_execution_data: bool,
    pub destinations: Vec<LogDestination>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct LogDestination {
    pub cloud_watch_logs_log_group: CloudWatchLogsLogGroup,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CloudWatchLogsLogGroup {
    pub log_group_arn: Val,
}

// ----------------------------------------------------------------- Scheduler

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Schedule {
    pub name: Val,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub schedule_expression: String,
    pub state: &'static str,
    pub flexible_time_window: FlexibleTimeWindow,
    pub target: ScheduleTarget,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlexibleTimeWindow {
    pub mode: &'static str,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleTarget {
    pub arn: Val,
    pub role_arn: Val,
    pub retry_policy: ScheduleRetryPolicy,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleRetryPolicy {
    pub maximum_event_age_in_seconds: u32,
    pub maximum_retry_attempts: u32,
}
