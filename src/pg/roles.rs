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

/// The name of role `role`, or its oid if it no longer exists.
pub fn role_name(role: super::Oid) -> String {
    // SAFETY: a syscache lookup by oid; NULL when missing (noerr).
    unsafe {
        let name = pg_sys::GetUserNameFromId(role, true);
        if name.is_null() {
            return role.to_u32().to_string();
        }
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

/// Whether the session user (the role that logged in, whatever SET ROLE
/// chose since) is a member of role `role`, superusers not counted as
/// members of everything; false when no such role exists.
pub fn session_user_is_member_of(role: &CStr) -> bool {
    // SAFETY: catalogue lookups by a C string and oids (acl.c
    // is_member_of_role_nosuper).
    unsafe {
        let role = pg_sys::get_role_oid(role.as_ptr(), true);
        role != pg_sys::InvalidOid
            && pg_sys::is_member_of_role_nosuper(pg_sys::GetSessionUserId(), role)
    }
}

/// The session user's oid. Asked before every statement of a session that
/// loaded the library (statements.rs), so called without pgrx's error
/// boundary: GetSessionUserId() only reads a backend-global and cannot
/// raise.
pub fn session_user() -> super::Oid {
    unsafe extern "C" {
        #[link_name = "GetSessionUserId"]
        fn session_user_id() -> pg_sys::Oid;
    }
    // SAFETY: see above (miscinit.c GetSessionUserId).
    unsafe { session_user_id() }
}

/// Whether the role in effect for the caller (SET ROLE's, not a SECURITY
/// DEFINER function's owner) bypasses row-level security: a superuser, or
/// a role with BYPASSRLS.
pub fn outer_user_bypasses_rls() -> bool {
    // SAFETY: a syscache lookup by oid (misc/superuser.c, acl.c
    // has_bypassrls_privilege).
    unsafe { pg_sys::has_bypassrls_privilege(pg_sys::GetOuterUserId()) }
}

/// Whether the current user, the one privileges are checked as (inside a
/// SECURITY DEFINER function, its owner), is role `role`.
pub fn current_user_is(role: &CStr) -> bool {
    // SAFETY: as above (miscinit.c GetUserId).
    unsafe {
        let role = pg_sys::get_role_oid(role.as_ptr(), true);
        role != pg_sys::InvalidOid && pg_sys::GetUserId() == role
    }
}
