//! Shared set-up of the server's integration tests: the Python and Node.js client environments (made by
//! `scripts/python-test-env.sh` and `scripts/node-test-env.sh`, failing loudly without python3, node, npm or
//! their registries), a server on a loopback port over a fresh store, and running the client programs in
//! `tests/clients/`.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bellwether_engine::Engine;
use bellwether_server::{ServerConfig, Shared};
use bellwether_store::{KeyScope, LiveStore};
use bellwether_store_sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

/// Runs a set-up script of `scripts/` and returns the path it prints, failing loudly with its errors.
fn setup(script: &str, needs: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg(root.join("scripts").join(script))
        .output()
        .unwrap_or_else(|e| panic!("bash runs scripts/{script}: {e}"));
    assert!(
        out.status.success(),
        "scripts/{script} failed (the real-client tests need {needs}):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The Python of `.venv-test`, made once per test binary.
pub fn python() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| setup("python-test-env.sh", "python3 and PyPI"))
        .clone()
}

/// The `node_modules` of `.node-test`, made once per test binary.
pub fn node_modules() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| setup("node-test-env.sh", "node, npm and the npm registry"))
        .clone()
}

/// A running server, on the embedded store unless started on another.
pub struct TestServer<S: LiveStore = SqliteStore> {
    pub url: String,
    pub state: Shared<S>,
    pub store: Arc<S>,
    pub ingest_key: String,
    pub read_key: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
    /// What the store needs kept alive (a test database).
    _keep: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl TestServer {
    pub async fn start(config: ServerConfig) -> TestServer {
        TestServer::start_with(config, Engine::default()).await
    }

    /// A server whose passes run `engine` (with models, say).
    pub async fn start_with(config: ServerConfig, engine: Engine) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("bellwether.db"))
            .await
            .unwrap();
        TestServer::start_on(store, dir, None, config, engine).await
    }
}

impl TestServer<bellwether_store_postgres::PgStore> {
    /// A server on a fresh PostgreSQL database of the server the harness finds or starts.
    pub async fn start_pg(config: ServerConfig) -> Self {
        let db = bellwether_store_postgres::testing::fresh().await;
        let store = db.store().await;
        TestServer::start_on(
            store,
            tempfile::tempdir().unwrap(),
            Some(Box::new(db)),
            config,
            Engine::default(),
        )
        .await
    }
}

impl<S: LiveStore> TestServer<S> {
    /// A server on `store`.
    pub async fn start_on(
        store: S,
        dir: tempfile::TempDir,
        keep: Option<Box<dyn std::any::Any + Send + Sync>>,
        config: ServerConfig,
        engine: Engine,
    ) -> TestServer<S> {
        let store = Arc::new(store);
        let mut keys = Vec::new();
        for scope in [KeyScope::Ingest, KeyScope::Read] {
            let (key, record) = bellwether_server::auth::new_key(scope, "test").unwrap();
            store.create_key(&record).await.unwrap();
            keys.push(key);
        }
        let (state, tasks) = bellwether_server::start(store.clone(), engine, config)
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let handle = tokio::spawn(async move {
            bellwether_server::serve(listener, st, tasks, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            url,
            state,
            store,
            ingest_key: keys.remove(0),
            read_key: keys.remove(0),
            stop: Some(stop),
            handle: Some(handle),
            _dir: dir,
            _keep: keep,
        }
    }

    /// The folder of the server's database files.
    pub fn data_dir(&self) -> &Path {
        self._dir.path()
    }

    /// Runs a client program with settings (a `.py` program with the Python of `.venv-test`, a `.js` one
    /// with node and the packages of `.node-test`); returns its standard output, failing on a non-zero exit.
    pub async fn run_client(&self, program: &str, env: &[(&str, &str)]) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/clients")
            .join(program);
        let mut cmd = if program.ends_with(".js") {
            let mut c = tokio::process::Command::new("node");
            c.env("NODE_PATH", node_modules());
            c
        } else {
            tokio::process::Command::new(python())
        };
        cmd.arg(script).env("HOST", &self.url);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd
            .output()
            .await
            .unwrap_or_else(|e| panic!("{program} could not be started: {e}"));
        assert!(
            out.status.success(),
            "{program} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A series value of an account on a day (0 when absent).
    pub async fn point(&self, account: &str, metric: &str, day: bellwether_core::Day) -> f64 {
        let id = bellwether_core::AccountId(account.into());
        let s = self.store.load_series(Some(&[id])).await.unwrap();
        s.first()
            .and_then(|(_, s)| s.get(metric))
            .map(|ser| ser.sum(day, day.plus(1)))
            .unwrap_or(0.0)
    }

    /// Stops the server gracefully and waits until its writer and queue have drained.
    pub async fn stop(self) {
        let TestServer {
            state,
            stop,
            handle,
            ..
        } = self;
        drop(state);
        if let Some(s) = stop {
            let _ = s.send(());
        }
        if let Some(h) = handle {
            h.await.unwrap();
        }
    }
}

/// One request through the router, without a socket: its status and JSON body (`Null` when not JSON).
pub async fn call(server: &TestServer, req: Request<Body>) -> (StatusCode, serde_json::Value) {
    use tower::ServiceExt;
    let resp = bellwether_server::app(server.state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// A POST with a content type and, when given, a bearer key.
pub fn post(path: &str, key: Option<&str>, ct: &str, body: impl Into<Body>) -> Request<Body> {
    let mut r = Request::post(path).header("content-type", ct);
    if let Some(k) = key {
        r = r.header("authorization", format!("Bearer {k}"));
    }
    r.body(body.into()).unwrap()
}

/// A GET with, when given, a bearer key.
pub fn get(path: &str, key: Option<&str>) -> Request<Body> {
    let mut r = Request::get(path);
    if let Some(k) = key {
        r = r.header("authorization", format!("Bearer {k}"));
    }
    r.body(Body::empty()).unwrap()
}

/// Posts JSON with a key.
pub async fn post_json(
    server: &TestServer,
    path: &str,
    key: &str,
    body: &serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    call(
        server,
        post(path, Some(key), "application/json", body.to_string()),
    )
    .await
}

/// Posts a Stripe event to the webhook, signed now with `secret` as Stripe signs.
pub async fn send_stripe(
    server: &TestServer,
    secret: &str,
    event: &serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let body = event.to_string();
    let now = bellwether_core::Timestamp::now().0 / 1000;
    let req = Request::post("/webhooks/stripe")
        .header("content-type", "application/json")
        .header(
            "stripe-signature",
            bellwether_server::stripe::sign(secret, now, body.as_bytes()),
        )
        .body(Body::from(body))
        .unwrap();
    call(server, req).await
}

/// A simulated book of `accounts` accounts (seed `seed`) imported into each of `stores`; the returned folder
/// holds its files.
pub async fn import_simulated<S: bellwether_store::Store>(
    accounts: usize,
    seed: u64,
    stores: &[&S],
) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("book");
    bellwether_sim::simulate(
        &bellwether_sim::SimConfig {
            accounts,
            seed,
            ..Default::default()
        },
        &book,
        &mut |_| {},
    )
    .unwrap();
    for s in stores {
        bellwether_ingest::import_dir(*s, &book, &Default::default())
            .await
            .unwrap();
    }
    dir
}

/// A model for `targets` (no baseline) trained on `store`'s book and made the active version on it and on
/// each of `also`; with the training set it learned from.
pub async fn activate_model<S: bellwether_store::Store>(
    store: &S,
    targets: Vec<bellwether_predict::Target>,
    also: &[&S],
) -> (
    bellwether_predict::dataset::TrainingSet,
    bellwether_predict::Bundle,
) {
    use bellwether_predict::score::{self, Activation};
    let set = bellwether_predict::dataset::from_store(
        store,
        &Default::default(),
        None,
        None,
        &Default::default(),
    )
    .await
    .unwrap()
    .unwrap();
    let cfg = bellwether_predict::TrainConfig {
        targets,
        baseline: false,
        ..Default::default()
    };
    let bundle = bellwether_predict::train(&set, None, &cfg).unwrap();
    for s in std::iter::once(store).chain(also.iter().copied()) {
        score::register(s, &bundle, &cfg, Activation::Force)
            .await
            .unwrap();
    }
    (set, bundle)
}
