//! Store servers of a test's own (Redis, S3), as child processes.

use crate::helpers::wait_until;
use draftd::config::Config;

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// A store server of a test's own (Redis, S3): a process killed when dropped.
pub struct ServerProcess(std::process::Child);

impl ServerProcess {
    /// Spawns `command` and waits until something listens on `port`.
    pub async fn start(mut command: std::process::Command, port: u16) -> Self {
        let child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{command:?}: {e} (make test installs it)"));
        let address = format!("127.0.0.1:{port}");
        wait_until(&format!("something listens on {address}"), || async {
            tokio::net::TcpStream::connect(&address).await.is_ok()
        })
        .await;
        ServerProcess(child)
    }

    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A redis-server of the test's own, on `port`, with its data in `dir`.
pub async fn redis_server(port: u16, dir: &std::path::Path, args: &[&str]) -> ServerProcess {
    std::fs::create_dir_all(dir).unwrap();
    let mut command = std::process::Command::new("redis-server");
    command
        .args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--save",
            "",
        ])
        .arg("--dir")
        .arg(dir)
        .args(args);
    ServerProcess::start(command, port).await
}

/// A real S3-protocol server (s3s-fs) on loopback, serving `root`; its
/// bucket is `draftd`.
pub async fn s3_server(root: &std::path::Path, port: u16) -> ServerProcess {
    std::fs::create_dir_all(root.join("draftd")).unwrap();
    let mut command = std::process::Command::new("s3s-fs");
    command
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", "draftd", "--secret-key", "draftd-secret"])
        .arg(root);
    ServerProcess::start(command, port).await
}

/// Points `config` at the `s3_server` on `port`.
pub fn use_s3(config: &mut Config, port: u16) {
    config.storage = draftd::config::StorageKind::S3;
    config.s3_endpoint = Some(format!("http://127.0.0.1:{port}"));
    config.s3_allow_http = true;
    config.s3_access_key_id = Some("draftd".into());
    config.s3_secret_access_key = Some("draftd-secret".into());
}
