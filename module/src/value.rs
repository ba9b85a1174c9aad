//! The member data type: how Redis frees, sizes, saves, loads and rewrites a value.
//! A value is a [`StoredMember`]: the member's compact bytes, or its open record
//! once it holds many invitations.

use std::ffi::CString;
use std::os::raw::{c_int, c_void};
use std::ptr::null_mut;

use invite_limiter::server::StoredMember;
use redis_module::native_types::RedisType;
use redis_module::raw;

/// The type's name (nine characters, as Redis requires) and encoding version.
pub(crate) static MEMBER_TYPE: RedisType = RedisType::new(
    "il-member",
    1,
    raw::RedisModuleTypeMethods {
        version: raw::REDISMODULE_TYPE_METHOD_VERSION as u64,
        rdb_load: Some(rdb_load),
        rdb_save: Some(rdb_save),
        aof_rewrite: Some(aof_rewrite),
        free: Some(free),
        mem_usage: Some(mem_usage),
        digest: None,
        aux_load: Some(aux_load),
        aux_save: Some(aux_save),
        aux_save2: None,
        aux_save_triggers: raw::REDISMODULE_AUX_BEFORE_RDB as c_int,
        free_effort: None,
        unlink: None,
        copy: None,
        defrag: None,
        copy2: None,
        free_effort2: None,
        mem_usage2: None,
        unlink2: None,
    },
);

/// # Safety
/// Redis passes a value this type created.
unsafe extern "C" fn free(value: *mut c_void) {
    if !value.is_null() {
        drop(Box::from_raw(value.cast::<StoredMember>()));
    }
}

/// # Safety
/// Redis passes a value this type created.
unsafe extern "C" fn mem_usage(value: *const c_void) -> usize {
    value
        .cast::<StoredMember>()
        .as_ref()
        .map_or(0, StoredMember::memory_usage)
}

/// # Safety
/// Redis passes an RDB handle and a value this type created.
unsafe extern "C" fn rdb_save(rdb: *mut raw::RedisModuleIO, value: *mut c_void) {
    if let Some(v) = value.cast::<StoredMember>().as_ref() {
        raw::save_slice(rdb, &v.bytes());
    }
}

/// A value that does not decode fails the load (null), rather than loading a guess.
///
/// # Safety
/// Redis passes an RDB handle positioned at a value this type saved.
unsafe extern "C" fn rdb_load(rdb: *mut raw::RedisModuleIO, _encver: c_int) -> *mut c_void {
    let Ok(buffer) = raw::load_string_buffer(rdb) else {
        return null_mut();
    };
    match StoredMember::from_bytes(buffer.as_ref()) {
        Ok(v) => Box::into_raw(Box::new(v)).cast(),
        Err(_) => null_mut(),
    }
}

/// An AOF rewrite writes each value as one `IL.RESTORE key bytes`.
///
/// # Safety
/// Redis passes an AOF handle, the key and a value this type created.
unsafe extern "C" fn aof_rewrite(
    aof: *mut raw::RedisModuleIO,
    key: *mut raw::RedisModuleString,
    value: *mut c_void,
) {
    let (Some(v), Some(emit)) = (
        value.cast::<StoredMember>().as_ref(),
        raw::RedisModule_EmitAOF,
    ) else {
        return;
    };
    let bytes = v.bytes();
    let (Ok(cmd), Ok(fmt)) = (CString::new("IL.RESTORE"), CString::new("sb")) else {
        return;
    };
    emit(
        aof,
        cmd.as_ptr(),
        fmt.as_ptr(),
        key,
        bytes.as_ptr(),
        bytes.len(),
    );
}

/// The policies in force travel in the RDB file before the keys.
///
/// # Safety
/// Redis passes an RDB handle.
unsafe extern "C" fn aux_save(rdb: *mut raw::RedisModuleIO, when: c_int) {
    if when != raw::REDISMODULE_AUX_BEFORE_RDB as c_int {
        return;
    }
    let policies = crate::server().as_ref().map(|s| s.saved_policies());
    raw::save_slice(rdb, &policies.unwrap_or_default());
}

/// # Safety
/// Redis passes an RDB handle positioned at what `aux_save` wrote.
unsafe extern "C" fn aux_load(rdb: *mut raw::RedisModuleIO, _encver: c_int, when: c_int) -> c_int {
    if when != raw::REDISMODULE_AUX_BEFORE_RDB as c_int {
        return raw::REDISMODULE_OK as c_int;
    }
    let Ok(buffer) = raw::load_string_buffer(rdb) else {
        return raw::REDISMODULE_ERR as c_int;
    };
    let mut guard = crate::server();
    let ok = match guard.as_mut() {
        Some(server) => server.load_policies(buffer.as_ref()).is_ok(),
        None => false,
    };
    if ok {
        raw::REDISMODULE_OK as c_int
    } else {
        raw::REDISMODULE_ERR as c_int
    }
}
