//! approval: the review page of a purchase order and the recording of the
//! approver's decision. [`decide`] holds the decision logic, which `invctl
//! approve`/`reject` share; [`page`] is the Function URL front.

pub mod decide;
pub mod page;
