//! What a Docker error means, for the modules on every side of a Docker call: a leaf, so that
//! containers, ownership checks and queries can all ask it without importing one another.

/// Docker answered 404: the object is not there (gone already, or never made).
pub(crate) fn is_not_found(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}
