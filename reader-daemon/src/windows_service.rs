//! Windows: `oqs-readerd --service --config FILE` runs under the service control manager (SCM).
//!
//! Installing the service (`sc.exe create`, run by the MSI/NSIS installer) is described in
//! `installer/windows/README.md`. Here the daemon registers with the SCM, reports `Running`, and turns the
//! SCM's Stop and Shutdown into the same clean stop that SIGTERM gives on Linux.
//!
//! This file is compiled only on Windows and cannot be built on the project's Linux machines; keep it small.

// `define_windows_service!` expands to the `extern "system"` entry point the SCM calls, which holds the
// crate's own unsafe FFI glue; nothing else here is unsafe.
#![allow(unsafe_code)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use windows_service::service::{
    ServiceControl, ServiceControlAccept, ServiceExitCode, ServiceState, ServiceStatus, ServiceType,
};
use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
use windows_service::{define_windows_service, service_dispatcher};

/// The service's name in the SCM (`sc.exe create oqs-readerd …`).
pub const SERVICE_NAME: &str = "oqs-readerd";

static CONFIG: OnceLock<PathBuf> = OnceLock::new();
static STOP: OnceLock<Arc<Notify>> = OnceLock::new();

fn stop_signal() -> Arc<Notify> {
    STOP.get_or_init(|| Arc::new(Notify::new())).clone()
}

/// Completes when the SCM asks the service to stop. Outside the SCM (a console run) it never completes and
/// Ctrl-C stops the daemon instead.
pub async fn stop_requested() {
    stop_signal().notified().await;
}

define_windows_service!(ffi_service_main, service_main);

/// Hands the process to the SCM; returns when the service has stopped.
pub fn run_as_service(config: PathBuf) -> anyhow::Result<()> {
    let _ = CONFIG.set(config);
    service_dispatcher::start(SERVICE_NAME, ffi_service_main)
        .map_err(|e| anyhow::anyhow!("the service control manager refused to start us: {e}"))
}

fn status(state: ServiceState, exit: u32) -> ServiceStatus {
    ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: if state == ServiceState::Running {
            ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN
        } else {
            ServiceControlAccept::empty()
        },
        exit_code: ServiceExitCode::Win32(exit),
        checkpoint: 0,
        wait_hint: Duration::from_secs(10),
        process_id: None,
    }
}

fn service_main(_arguments: Vec<OsString>) {
    let stop = stop_signal();
    let handler = move |control| match control {
        ServiceControl::Stop | ServiceControl::Shutdown => {
            // notify_one keeps a permit, so a Stop that arrives before the daemon waits is not lost.
            stop.notify_one();
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let Ok(handle) = service_control_handler::register(SERVICE_NAME, handler) else {
        return;
    };
    let _ = handle.set_service_status(status(ServiceState::Running, 0));
    let exit = match CONFIG.get() {
        Some(config) => crate::run_service(config),
        None => 1,
    };
    let _ = handle.set_service_status(status(ServiceState::Stopped, exit));
}
