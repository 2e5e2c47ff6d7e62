//! One Python thread state per engine worker, kept for the worker's life.
//!
//! `Python::attach` on a thread that Python does not know creates a thread state and destroys
//! it again when the call ends (`PyGILState_Ensure` / `PyGILState_Release`): a few
//! microseconds for every Python action a worker runs. [`keep`] makes the thread state once
//! per thread and keeps it until the thread exits, so each later `attach` only takes the GIL.
//!
//! At the thread's exit the state is destroyed (the GIL is taken for that, so the thread that
//! joins the workers must not hold it: every run is joined with the GIL released). Once the
//! interpreter has begun to shut down (an `atexit` handler set when the module is imported),
//! the state is left alone instead: taking the GIL then would hang the thread.

#![allow(unsafe_code)]

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::ffi;

/// Set by the `atexit` handler: the interpreter is shutting down.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);

/// Marks the interpreter as shutting down (registered with `atexit`).
pub(crate) fn shutting_down() {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
}

/// A thread state made by `PyGILState_Ensure` on this thread, detached.
struct Kept {
    gstate: ffi::PyGILState_STATE,
    tstate: *mut ffi::PyThreadState,
}

impl Drop for Kept {
    fn drop(&mut self) {
        if SHUTTING_DOWN.load(Ordering::SeqCst) {
            return;
        }
        // SAFETY: `tstate` is this thread's state, detached by `keep`; restoring it takes the
        // GIL, and releasing the `PyGILState_Ensure` of `keep` (the outermost one: every
        // `attach` since has been released) destroys it and releases the GIL.
        unsafe {
            ffi::PyEval_RestoreThread(self.tstate);
            ffi::PyGILState_Release(self.gstate);
        }
    }
}

thread_local! {
    static KEPT: RefCell<Option<Kept>> = const { RefCell::new(None) };
}

/// Gives this thread a Python thread state that lives as long as the thread, if it has none
/// (a thread Python started, the consumer's, already has one). Call it without the GIL.
pub(crate) fn keep() {
    let _ = KEPT.try_with(|kept| {
        let mut kept = kept.borrow_mut();
        if kept.is_some() || SHUTTING_DOWN.load(Ordering::SeqCst) {
            return;
        }
        // SAFETY: reading this thread's registered state needs no GIL.
        if !unsafe { ffi::PyGILState_GetThisThreadState() }.is_null() {
            return;
        }
        // SAFETY: the thread has no thread state and does not hold the GIL (the caller's
        // contract): `PyGILState_Ensure` makes one and takes the GIL, `PyEval_SaveThread`
        // detaches it again, keeping the state for the thread.
        let (gstate, tstate) = unsafe {
            let gstate = ffi::PyGILState_Ensure();
            (gstate, ffi::PyEval_SaveThread())
        };
        *kept = Some(Kept { gstate, tstate });
    });
}
