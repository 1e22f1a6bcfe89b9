; The installer's steps beyond copying files (installer/windows/oqs-terminal.nsi includes this file; the macro
; names are those of Tauri's NSIS hooks, so its bundler could call them too). They run elevated, with
; SetShellVarContext all, so $APPDATA is C:\ProgramData. Accounts are given by SID, which every language of
; Windows understands (S-1-5-18 SYSTEM, S-1-5-32-544 Administrators).

!macro NSIS_HOOK_POSTINSTALL
  ; The data: the store and its keys, the central service's certificates, the relay's work folder, and the
  ; folders the receipt computer shares (req\ res\ face\).
  CreateDirectory "$APPDATA\OQS\central"
  CreateDirectory "$APPDATA\OQS\keys"
  CreateDirectory "$APPDATA\OQS\work"
  CreateDirectory "$APPDATA\OQS\req"
  CreateDirectory "$APPDATA\OQS\res"
  CreateDirectory "$APPDATA\OQS\face"
  ; The first configuration only: an existing one is the facility's and is kept.
  IfFileExists "$APPDATA\OQS\oqs-readerd.toml" +2 0
    CopyFiles /SILENT "$INSTDIR\oqs-readerd.example.toml" "$APPDATA\OQS\oqs-readerd.toml"
  ; Only SYSTEM, Administrators and the service read the data; nothing for Users.
  nsExec::ExecToLog 'icacls "$APPDATA\OQS" /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F"'
  Pop $0
  ; The service, as its own virtual account (NT SERVICE\oqs-readerd), started at boot once the desktop is up.
  nsExec::ExecToLog 'sc.exe create oqs-readerd binPath= "\"$INSTDIR\oqs-readerd.exe\" --service --config \"$APPDATA\OQS\oqs-readerd.toml\"" start= delayed-auto obj= "NT SERVICE\oqs-readerd" DisplayName= "OQS reader daemon"'
  Pop $0
  nsExec::ExecToLog 'sc.exe description oqs-readerd "Online eligibility confirmation: card readers and the req/res file relay"'
  Pop $0
  nsExec::ExecToLog 'sc.exe sidtype oqs-readerd unrestricted'
  Pop $0
  nsExec::ExecToLog 'icacls "$APPDATA\OQS" /grant "NT SERVICE\oqs-readerd:(OI)(CI)M"'
  Pop $0
  nsExec::ExecToLog 'sc.exe failure oqs-readerd reset= 86400 actions= restart/5000/restart/5000/restart/60000'
  Pop $0
  ; The smart-card service starts with Windows (it otherwise starts only when a reader is plugged in).
  nsExec::ExecToLog 'sc.exe config SCardSvr start= auto'
  Pop $0
  ; The receipt computer's account gets req\ res\ face\ by hand (installer/windows/README.md): it differs per
  ; facility. The service starts once the facility's configuration and certificates are in place.
!macroend

!macro NSIS_HOOK_PREUNINSTALL
  nsExec::ExecToLog 'sc.exe stop oqs-readerd'
  Pop $0
  nsExec::ExecToLog 'sc.exe delete oqs-readerd'
  Pop $0
  ; C:\ProgramData\OQS (the store, the folders, the configuration) is kept.
!macroend
