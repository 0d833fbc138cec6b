//! Background work (applying acknowledged messages) on a thread of its own at a lower CPU priority than the
//! request handlers, so that under a burst acknowledging comes first and applying takes the rest of the CPU.
//!
//! The thread runs its own single-threaded runtime; the store work it starts on the runtime's blocking pool
//! runs on threads it creates, which inherit its priority (Linux: `nice` is per thread and inherited).

use std::future::Future;
use tokio::sync::oneshot;

/// How much lower than the request handlers background work runs (`nice` steps added, Linux only).
pub const NICE: i32 = 10;

/// Runs `fut` to completion on a new thread named `name`, at [`NICE`]; the returned handle resolves when it
/// ends. Should the thread not start, `fut` runs on the caller's runtime instead.
pub fn spawn<F>(name: &str, fut: F) -> tokio::task::JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (done, finished) = oneshot::channel::<()>();
    let (hand, take) = std::sync::mpsc::channel::<F>();
    let started = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let Ok(fut) = take.recv() else { return };
            lower_priority();
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .thread_name("bellwether-bg-store")
                .build()
            {
                Ok(rt) => rt.block_on(fut),
                Err(e) => tracing::error!(error = %e, "cannot start a background runtime"),
            }
            let _ = done.send(());
        });
    match started {
        Ok(_) => {
            let _ = hand.send(fut);
            tokio::spawn(async move {
                let _ = finished.await;
            })
        }
        Err(e) => {
            tracing::warn!(error = %e, thread = name, "cannot start a background thread; running on the server's");
            tokio::spawn(fut)
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // SAFETY: gettid and setpriority only read their arguments; `which = PRIO_PROCESS` with a thread id
    // changes that thread alone.
    let rc = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, (now + NICE).min(19))
    };
    if rc != 0 {
        tracing::debug!(
            error = %std::io::Error::last_os_error(),
            "background work runs at normal priority"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    fn own_nice() -> i32 {
        // SAFETY: as in `lower_priority`.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::getpriority(libc::PRIO_PROCESS, tid)
        }
    }

    #[tokio::test]
    async fn runs_the_future_on_its_thread_at_a_lower_priority() {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let h = super::spawn("bg-test", async move {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            let name = std::thread::current().name().map(str::to_string);
            #[cfg(target_os = "linux")]
            let nice = own_nice();
            #[cfg(not(target_os = "linux"))]
            let nice = 0;
            let _ = tx.send((name, nice));
        });
        h.await.unwrap();
        let (name, nice) = rx.await.unwrap();
        assert_eq!(name.as_deref(), Some("bg-test"));
        #[cfg(target_os = "linux")]
        {
            let here = own_nice();
            assert_eq!(
                nice,
                (here + super::NICE).min(19),
                "the background thread's nice"
            );
        }
        let _ = nice;
    }
}
