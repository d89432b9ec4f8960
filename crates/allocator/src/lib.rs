//! The portal binary's allocator, mimalloc, and how soon it gives freed memory back to the system.
//!
//! mimalloc 3 keeps memory freed by a thread for a second (`purge_delay`, 1,000 ms) before returning it, in case
//! the thread needs it again. A server whose threads take turns (actix workers, tokio's, one per SQLite
//! connection) then holds every thread's last second of garbage at once: under the load bench's burst of webhooks
//! the resident peak was 93–98 MiB on SQLite, and 77–80 MiB with 10 ms, the delay mimalloc 2 had, at the same
//! page rates (measured with `MIMALLOC_PURGE_DELAY`, interleaved runs on one machine).

pub use mimalloc::MiMalloc;

/// mimalloc's purge delay the portal sets, in milliseconds.
pub const PURGE_DELAY_MS: std::ffi::c_long = 10;

/// The environment variable through which an operator chooses the delay instead (mimalloc reads it itself).
pub const PURGE_DELAY_VARIABLE: &str = "MIMALLOC_PURGE_DELAY";

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (mimalloc.h; `libmimalloc-sys` leaves it out of its
/// constants). The test `the_purge_delay_option_is_the_one_its_variable_sets` checks the number against the
/// environment variable that mimalloc maps to it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Sets the purge delay to [`PURGE_DELAY_MS`], unless [`PURGE_DELAY_VARIABLE`] chose one. Call it first thing in
/// `main`, before any other thread starts (mimalloc's option table is not synchronised).
pub fn return_freed_memory_promptly() {
    if std::env::var_os(PURGE_DELAY_VARIABLE).is_some() {
        return;
    }
    #[expect(
        unsafe_code,
        reason = "mimalloc's options are set through its C API only"
    )]
    // SAFETY: `mi_option_set` stores an integer in mimalloc's static option table; the option number is in range
    // (checked by the test below), no pointer is passed, and the caller runs before any other thread exists.
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
    }
}

/// The purge delay mimalloc uses now, in milliseconds (for the tests: the binary only sets it).
#[cfg(test)]
fn purge_delay_ms() -> std::ffi::c_long {
    #[expect(
        unsafe_code,
        reason = "mimalloc's options are read through its C API only"
    )]
    // SAFETY: `mi_option_get` reads an integer from mimalloc's static option table (reading the environment the
    // first time); the option number is in range and no pointer is passed.
    unsafe {
        libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run in a child process with the variable set (mimalloc reads it once): the option numbered
    /// `MI_OPTION_PURGE_DELAY` holds the variable's value, and setting it at start-up leaves the operator's choice.
    #[test]
    fn the_purge_delay_option_is_the_one_its_variable_sets() {
        if std::env::var_os("PORTAL_ALLOCATOR_CHILD").is_some() {
            return_freed_memory_promptly();
            println!("purge delay = {}", purge_delay_ms());
            return;
        }
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "tests::the_purge_delay_option_is_the_one_its_variable_sets",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("PORTAL_ALLOCATOR_CHILD", "1")
            .env(PURGE_DELAY_VARIABLE, "37")
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&child.stdout);
        assert!(child.status.success(), "{printed}");
        assert!(printed.contains("purge delay = 37"), "{printed}");
    }

    #[test]
    fn the_portal_sets_its_own_delay_when_nobody_chose_one() {
        if std::env::var_os(PURGE_DELAY_VARIABLE).is_some() {
            eprintln!("skipped: {PURGE_DELAY_VARIABLE} is set in this environment");
            return;
        }
        return_freed_memory_promptly();
        assert_eq!(purge_delay_ms(), PURGE_DELAY_MS);
    }
}
