; The Windows installer of the facility terminal, made on Linux by makensis (installer/windows/build-installer.sh,
; `make windows-installer`). A 64-bit, per-machine installer in Japanese and English: the programs into
; "C:\Program Files\OQS Terminal", then src-tauri/windows/hooks.nsh (the data folders and their ACLs, the first
; configuration, the oqs-readerd service). Silent with /S.
;
; makensis -DVERSION=… -DBIN=<folder of the .exe files> -DEXAMPLE=<example configuration> -DHOOKS=<hooks.nsh>
;          -DOUTFILE=<installer> [-DAPP] oqs-terminal.nsi
; APP: the folder holds the app (oqs-terminal.exe and WebView2Loader.dll) too.
; NOCOMPRESS: store the files uncompressed.

Unicode true
Target amd64-unicode
; NOCOMPRESS: a quick, large installer (the Wine test's).
!ifdef NOCOMPRESS
  SetCompress off
!else
  SetCompressor /SOLID lzma
!endif

!include "MUI2.nsh"

Name "OQS Terminal ${VERSION}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\OQS Terminal"
RequestExecutionLevel admin
BrandingText "OQS Terminal ${VERSION}"

!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\OQS Terminal"

!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "Japanese"
!insertmacro MUI_LANGUAGE "English"

!include "${HOOKS}"

Section "OQS Terminal"
  SetShellVarContext all
  SetRegView 64
  SetOutPath "$INSTDIR"
  ; An upgrade replaces the daemon's program: stop the service first (nothing happens on a first install).
  nsExec::ExecToLog 'sc.exe stop oqs-readerd'
  Pop $0
  File "${BIN}/oqs-readerd.exe"
  File "${BIN}/oqs.exe"
!ifdef APP
  File "${BIN}/oqs-terminal.exe"
  File "${BIN}/WebView2Loader.dll"
  CreateShortCut "$SMPROGRAMS\OQS Terminal.lnk" "$INSTDIR\oqs-terminal.exe"
!endif
  File "/oname=oqs-readerd.example.toml" "${EXAMPLE}"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayName" "OQS Terminal"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "Publisher" "OQS terminal project"
  WriteRegStr HKLM "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKLM "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTALL_KEY}" "NoRepair" 1
  !insertmacro NSIS_HOOK_POSTINSTALL
SectionEnd

Section "Uninstall"
  SetShellVarContext all
  SetRegView 64
  !insertmacro NSIS_HOOK_PREUNINSTALL
  Delete "$INSTDIR\oqs-readerd.exe"
  Delete "$INSTDIR\oqs.exe"
  Delete "$INSTDIR\oqs-terminal.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\oqs-readerd.example.toml"
  Delete "$SMPROGRAMS\OQS Terminal.lnk"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "${UNINSTALL_KEY}"
SectionEnd
