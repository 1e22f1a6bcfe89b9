; NSIS hooks of the Windows installer (tauri.windows.conf.json). They run elevated (perMachine) and do what
; installer/windows/README.md lists: the data folders with their ACLs, the first configuration, and the
; oqs-readerd service. Not built on the project's Linux machines: review and test on a Windows build PC.

!macro NSIS_HOOK_POSTINSTALL
  CreateDirectory "$COMMONPROGRAMDATA\OQS"
  nsExec::ExecToLog 'powershell -NoProfile -ExecutionPolicy Bypass -Command "$$d=''$COMMONPROGRAMDATA\OQS''; foreach ($$s in ''central'',''req'',''res'',''face'',''work'',''keys'') { New-Item -ItemType Directory -Force (Join-Path $$d $$s) | Out-Null }; icacls $$d /inheritance:r /grant:r ''SYSTEM:(OI)(CI)F'' ''Administrators:(OI)(CI)F'' | Out-Null; if (-not (Test-Path (Join-Path $$d ''oqs-readerd.toml''))) { Copy-Item ''$INSTDIR\oqs-readerd.example.toml'' (Join-Path $$d ''oqs-readerd.toml'') }"'
  nsExec::ExecToLog 'sc.exe create oqs-readerd binPath= "\"$INSTDIR\oqs-readerd.exe\" --service --config $COMMONPROGRAMDATA\OQS\oqs-readerd.toml" start= delayed-auto obj= "NT SERVICE\oqs-readerd" DisplayName= "OQS reader daemon"'
  nsExec::ExecToLog 'icacls "$COMMONPROGRAMDATA\OQS" /grant "NT SERVICE\oqs-readerd:(OI)(CI)M"'
  nsExec::ExecToLog 'sc.exe sidtype oqs-readerd unrestricted'
  nsExec::ExecToLog 'sc.exe failure oqs-readerd reset= 86400 actions= restart/5000/restart/5000/restart/60000'
  nsExec::ExecToLog 'sc.exe config SCardSvr start= auto'
  nsExec::ExecToLog 'sc.exe start oqs-readerd'
!macroend

!macro NSIS_HOOK_PREUNINSTALL
  nsExec::ExecToLog 'sc.exe stop oqs-readerd'
  nsExec::ExecToLog 'sc.exe delete oqs-readerd'
  ; C:\ProgramData\OQS (the store, the folders, the configuration) is kept.
!macroend
