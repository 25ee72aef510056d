//! Making a new cache file readable by its owner only: mode 0600 on Unix, a protected
//! DACL that grants the owner alone full access on Windows (no inherited entries).

use std::fs::File;

#[cfg(unix)]
pub(crate) fn restrict(file: &mut File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
}

/// `D:P(A;;FA;;;OW)`: a DACL protected from inheritance, with one entry allowing
/// `FILE_ALL_ACCESS` to the OWNER RIGHTS SID (whoever owns the file: the user who
/// created it).
#[cfg(windows)]
const OWNER_ONLY: &str = "D:P(A;;FA;;;OW)";

#[cfg(windows)]
pub(crate) fn restrict(file: &mut File) -> std::io::Result<()> {
    use windows_permissions::constants::{SeObjectType, SecurityInformation};
    use windows_permissions::wrappers::{
        ConvertStringSecurityDescriptorToSecurityDescriptor, GetSecurityDescriptorDacl,
        SetSecurityInfo,
    };
    let descriptor = ConvertStringSecurityDescriptorToSecurityDescriptor(OWNER_ONLY)?;
    let dacl = GetSecurityDescriptorDacl(&descriptor)?;
    SetSecurityInfo(
        file,
        SeObjectType::SE_FILE_OBJECT,
        SecurityInformation::Dacl | SecurityInformation::ProtectedDacl,
        None,
        None,
        dacl,
        None,
    )
}

#[cfg(not(any(unix, windows)))]
pub(crate) fn restrict(_file: &mut File) -> std::io::Result<()> {
    Ok(())
}
