//! The LoadBalancer stand-in at run time: the controller (one container per profile) and the
//! proxies it runs (one container per LoadBalancer service). Both are this binary, in hidden
//! modes `lb-controller` and `lb-proxy`; what they create is planned in `plan::load_balancer`.

pub mod controller;
pub mod proxy;
pub mod ready;
pub mod runtime;
