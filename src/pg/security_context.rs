//! Running operator-defined code as the calling role, from inside a
//! SECURITY DEFINER function.
//!
//! Follows what PostgreSQL does to run index expressions and similar code as
//! a table's owner (GetUserIdAndSecContext() and SetUserIdAndSecContext() of
//! utils/init/miscinit.c, as index_build() and ExecuteTruncateGuts() use
//! them), checked against PostgreSQL 15, 16 and 18.

use pgrx::pg_sys;

/// Runs what follows as the role that called the SECURITY DEFINER function
/// (the outer user), in a security-restricted operation (no SET ROLE, no
/// temporary objects made, no cursors kept), until dropped.
pub struct AsCaller {
    user: pg_sys::Oid,
    security_context: i32,
}

impl AsCaller {
    pub fn switch() -> AsCaller {
        let mut saved = AsCaller {
            user: pg_sys::InvalidOid,
            security_context: 0,
        };
        // SAFETY: reads and sets the backend's current user; the previous
        // values are put back on drop, and by transaction abort on error.
        unsafe {
            pg_sys::GetUserIdAndSecContext(&mut saved.user, &mut saved.security_context);
            pg_sys::SetUserIdAndSecContext(
                pg_sys::GetOuterUserId(),
                saved.security_context | pg_sys::SECURITY_RESTRICTED_OPERATION as i32,
            );
        }
        saved
    }
}

impl Drop for AsCaller {
    fn drop(&mut self) {
        // SAFETY: restores what switch() found.
        unsafe { pg_sys::SetUserIdAndSecContext(self.user, self.security_context) };
    }
}

/// Runs what follows as role `role`, as a call of a SECURITY DEFINER
/// function owned by it does (fmgr.c fmgr_security_definer: the user id
/// changes, SET ROLE is locked out), until dropped.
pub struct AsRole {
    _saved: AsCaller,
}

impl AsRole {
    /// `None` when no role `role` exists.
    pub fn switch(role: &std::ffi::CStr) -> Option<AsRole> {
        let mut saved = AsCaller {
            user: pg_sys::InvalidOid,
            security_context: 0,
        };
        // SAFETY: a catalogue lookup by C string; then as AsCaller::switch,
        // the previous values put back on drop or by transaction abort.
        unsafe {
            let role = pg_sys::get_role_oid(role.as_ptr(), true);
            if role == pg_sys::InvalidOid {
                return None;
            }
            pg_sys::GetUserIdAndSecContext(&mut saved.user, &mut saved.security_context);
            pg_sys::SetUserIdAndSecContext(
                role,
                saved.security_context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32,
            );
        }
        Some(AsRole { _saved: saved })
    }
}
