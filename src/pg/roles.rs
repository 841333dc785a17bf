//! The role in effect for the caller, and its memberships.
//!
//! Follows GetOuterUserId(), GetSessionUserId() and GetUserNameFromId() of
//! utils/init/miscinit.c and get_role_oid() and has_privs_of_role() of
//! utils/adt/acl.c, checked against PostgreSQL 15, 16 and 18. The outer user
//! is the session user or the role chosen with SET ROLE, never the owner a
//! SECURITY DEFINER function runs as.

use pgrx::pg_sys;
use std::ffi::CStr;

/// The name of the role in effect for the caller.
pub fn outer_user_name() -> String {
    // SAFETY: the outer user exists while its session runs; the name is a
    // palloc'd C string (miscinit.c GetUserNameFromId).
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetOuterUserId(), false);
        CStr::from_ptr(name).to_string_lossy().into_owned()
    }
}

/// The name of the session user: the role that logged in (or that a
/// superuser chose with SET SESSION AUTHORIZATION), which SET ROLE and
/// SECURITY DEFINER leave unchanged.
pub fn session_user_name() -> String {
    // SAFETY: as outer_user_name(), for the session user (miscinit.c
    // GetSessionUserId, GetUserNameFromId).
    unsafe {
        let name = pg_sys::GetUserNameFromId(pg_sys::GetSessionUserId(), false);
        CStr::from_ptr(name).to_string_lossy().into_owned()
    }
}

/// Whether the role in effect for the caller has the privileges of role
/// `role` (superusers always do); false when no such role exists.
pub fn outer_user_has_privs_of(role: &CStr) -> bool {
    // SAFETY: catalogue lookups by a C string and an oid (acl.c
    // get_role_oid, has_privs_of_role).
    unsafe {
        let role = pg_sys::get_role_oid(role.as_ptr(), true);
        role != pg_sys::InvalidOid && pg_sys::has_privs_of_role(pg_sys::GetOuterUserId(), role)
    }
}
