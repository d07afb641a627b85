//! The media relay: a driver that owns UDP sockets and runs the media core's calls (sans-IO) in epoll loops,
//! and the control channel hosts use to allocate, update and delete calls. Never calls host APIs.
//!
//! A host either forks a process that calls [`run`] (Kamailio) or starts it as threads with [`spawn`]
//! (FreeSWITCH); SIP workers talk to it with [`Client`].

pub mod control;
pub mod driver;
pub mod engine;
pub mod media_engine;
pub mod plan;
pub mod rtp;
pub mod stats;
mod sys;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

pub use control::proto::{
    Allocation, Candidate, ErrorCode, Family, LegAllocation, LegConfig, RemoteLeg, Reply, Request,
    SdesKey, Side, Transport,
};
pub use control::Client;
pub use driver::{Driver, DriverError, Interface, RelayConfig};
pub use engine::{Engine, EngineFactory, EngineSpec, Outbox};
pub use stats::{CallStats, LegStats, TotalStats};

/// Errors of the relay layer (mostly seen by control clients).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("invalid input: {0}")]
    Invalid(String),
    #[error("relay unavailable: {0}")]
    Unavailable(String),
    #[error("relay did not answer in time")]
    Timeout,
    #[error("relay protocol error: {0}")]
    Protocol(String),
    #[error("relay refused ({code:?}): {message}")]
    Remote { code: ErrorCode, message: String },
    #[error("relay i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// The engine factory the relay uses: plain forwarding for RTP<->RTP, the media core's call otherwise.
#[derive(Default)]
pub struct DefaultFactory {
    media: media_engine::MediaFactory,
}

impl EngineFactory for DefaultFactory {
    fn create(
        &self,
        spec: &EngineSpec<'_>,
    ) -> Result<(Box<dyn Engine>, [LegAllocation; 2]), String> {
        let empty = || LegAllocation {
            addrs: Vec::new(),
            ice_ufrag: None,
            ice_pwd: None,
            fingerprint: None,
            sdes: None,
        };
        match (spec.meta.transport, spec.pbx.transport) {
            (Transport::Rtp, Transport::Rtp) => Ok((
                Box::new(rtp::PlainEngine::new(spec.addrs, spec.media_timeout)),
                [empty(), empty()],
            )),
            _ => self.media.create(spec),
        }
    }
}

/// A relay running on threads of the current process.
pub struct RelayHandle {
    driver: Arc<Driver>,
    stopper: control::Stopper,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RelayHandle {
    /// The driver, for hosts that want to skip the control socket.
    pub fn driver(&self) -> &Arc<Driver> {
        &self.driver
    }

    /// Stops the control server and the workers; closes every socket.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        self.stopper.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.driver.stop();
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// Starts the relay on threads of this process, serving the control socket at `control_socket`.
pub fn spawn(config: RelayConfig, control_socket: &Path) -> Result<RelayHandle, Error> {
    spawn_with(config, control_socket, Box::<DefaultFactory>::default())
}

/// As [`spawn`], with a custom engine factory (tests, benchmarks).
pub fn spawn_with(
    config: RelayConfig,
    control_socket: &Path,
    factory: Box<dyn EngineFactory>,
) -> Result<RelayHandle, Error> {
    let server = control::Server::bind(control_socket)?;
    let driver = Arc::new(Driver::start(config, factory)?);
    let stopper = server.stopper();
    let d = driver.clone();
    let thread = std::thread::Builder::new()
        .name("wacall-relay-accept".into())
        .spawn(move || server.serve(d))?;
    Ok(RelayHandle {
        driver,
        stopper,
        thread: Some(thread),
    })
}

/// Runs the relay in the calling thread until the process ends: for a process the host forked for it.
/// Returns only on a start-up error (socket path taken, no threads).
pub fn run(config: RelayConfig, control_socket: &Path) -> Result<(), Error> {
    let exit_with_parent = config.exit_with_parent;
    let server = control::Server::bind(control_socket)?;
    let driver = Arc::new(Driver::start(config, Box::<DefaultFactory>::default())?);
    if exit_with_parent {
        let parent = std::os::unix::process::parent_id();
        let path = control_socket.to_owned();
        std::thread::Builder::new()
            .name("wacall-relay-parent".into())
            .spawn(move || loop {
                std::thread::sleep(Duration::from_millis(500));
                if std::os::unix::process::parent_id() != parent {
                    log::warn!("relay: host process went away, exiting");
                    let _ = std::fs::remove_file(&path);
                    std::process::exit(0);
                }
            })?;
    }
    log::info!("relay: control socket {}", control_socket.display());
    server.serve(driver);
    Ok(())
}
