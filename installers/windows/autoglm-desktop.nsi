; Windows installer for AutoGLM Desktop (NSIS 3, Unicode).
;
;   makensis /DVERSION=0.1.0 /DBUNDLE_DIR=dist\autoglm-desktop ^
;            /DOUT_FILE=dist\AutoGLM-Desktop-0.1.0-windows-x64-setup.exe ^
;            installers\windows\autoglm-desktop.nsi
;
; scripts/build_bundle.py runs this on Windows. What it does:
; - installs for the current user only, without administrator rights, into
;   %LOCALAPPDATA%\Programs\AutoGLM Desktop (every registry key is under HKCU);
; - Start-menu shortcut, and a desktop shortcut the user can untick;
; - .gguf files open with the app (autoglm-desktop.exe "<file>");
; - an uninstaller (also in Settings > Apps) that asks whether to keep the models and chats.

Unicode true
ManifestDPIAware true
SetCompressor /SOLID lzma
RequestExecutionLevel user

!ifndef VERSION
  !error "pass /DVERSION=x.y.z"
!endif
!ifndef BUNDLE_DIR
  !error "pass /DBUNDLE_DIR=<the PyInstaller onedir folder>"
!endif
!ifndef OUT_FILE
  !define OUT_FILE "AutoGLM-Desktop-${VERSION}-windows-x64-setup.exe"
!endif

!define APP_NAME "AutoGLM Desktop"
!define APP_ID "autoglm-desktop"
!define APP_EXE "${APP_ID}.exe"
!define PROG_ID "AutoGLMDesktop.gguf"
!define UNINSTALL_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_ID}"
; platformdirs' folders on Windows (data, settings and cache share one root).
!define USER_DATA "$LOCALAPPDATA\${APP_ID}"

Name "${APP_NAME}"
OutFile "${OUT_FILE}"
InstallDir "$LOCALAPPDATA\Programs\${APP_NAME}"
InstallDirRegKey HKCU "Software\${APP_ID}" "InstallDir"
BrandingText "${APP_NAME} ${VERSION}"
VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=1033 "ProductName" "${APP_NAME}"
VIAddVersionKey /LANG=1033 "FileDescription" "${APP_NAME} installer"
VIAddVersionKey /LANG=1033 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=1033 "LegalCopyright" "Apache-2.0"

!include "MUI2.nsh"
!include "FileFunc.nsh"

!define MUI_ICON "..\..\resources\icons\autoglm-desktop.ico"
!define MUI_UNICON "..\..\resources\icons\autoglm-desktop.ico"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_NODESC
!define MUI_FINISHPAGE_RUN "$INSTDIR\${APP_EXE}"

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_LICENSE "LICENSE-NOTICE.txt"
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "English"
!insertmacro MUI_LANGUAGE "SimpChinese"  ; picked automatically on a Chinese Windows

LangString SEC_APP ${LANG_ENGLISH} "AutoGLM Desktop (required)"
LangString SEC_APP ${LANG_SIMPCHINESE} "AutoGLM 桌面版（必需）"
LangString SEC_DESKTOP ${LANG_ENGLISH} "Desktop shortcut"
LangString SEC_DESKTOP ${LANG_SIMPCHINESE} "桌面快捷方式"
LangString SEC_GGUF ${LANG_ENGLISH} "Open .gguf model files with AutoGLM Desktop"
LangString SEC_GGUF ${LANG_SIMPCHINESE} "用 AutoGLM 桌面版打开 .gguf 模型文件"
LangString KEEP_DATA ${LANG_ENGLISH} "Keep your models, chats and settings?$\r$\n$\r$\nYes keeps them for a later install. No deletes them from this computer."
LangString KEEP_DATA ${LANG_SIMPCHINESE} "保留您的模型、聊天记录和设置吗？$\r$\n$\r$\n选择“是”将保留，以便以后重新安装；选择“否”将从此电脑删除。"
LangString STILL_RUNNING ${LANG_ENGLISH} "AutoGLM Desktop is still running. Close it, then click Retry."
LangString STILL_RUNNING ${LANG_SIMPCHINESE} "AutoGLM 桌面版仍在运行。请先关闭它，然后点击“重试”。"

; A file that cannot be replaced means the app (or its engine process) is running.
!macro EnsureNotRunning
  retry:
    ClearErrors
    IfFileExists "$INSTDIR\${APP_EXE}" 0 done
    FileOpen $0 "$INSTDIR\${APP_EXE}" a
    IfErrors 0 close
    MessageBox MB_RETRYCANCEL|MB_ICONEXCLAMATION "$(STILL_RUNNING)" /SD IDCANCEL IDRETRY retry
    Abort
  close:
    FileClose $0
  done:
!macroend

Section "$(SEC_APP)" SecApp
  SectionIn RO
  !insertmacro EnsureNotRunning
  SetOutPath "$INSTDIR"
  ; A previous version's files go first, so no stale library lingers (user data is elsewhere;
  ; a portable-data folder, if the user made one here, is left alone).
  RMDir /r "$INSTDIR\_internal"
  File /r "${BUNDLE_DIR}\*"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateDirectory "$SMPROGRAMS"
  CreateShortcut "$SMPROGRAMS\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0

  WriteRegStr HKCU "Software\${APP_ID}" "InstallDir" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "Publisher" "AutoGLM Desktop contributors"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "DisplayIcon" "$INSTDIR\${APP_EXE},0"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINSTALL_KEY}" "UninstallString" '"$INSTDIR\uninstall.exe"'
  WriteRegStr HKCU "${UNINSTALL_KEY}" "QuietUninstallString" '"$INSTDIR\uninstall.exe" /S'
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINSTALL_KEY}" "EstimatedSize" "$0"
SectionEnd

Section "$(SEC_DESKTOP)" SecDesktop
  CreateShortcut "$DESKTOP\${APP_NAME}.lnk" "$INSTDIR\${APP_EXE}" "" "$INSTDIR\${APP_EXE}" 0
SectionEnd

Section "$(SEC_GGUF)" SecGguf
  ; Per-user file association (HKCU\Software\Classes); Explorer offers the app for .gguf files
  ; and opens them with it when no other program has claimed the type.
  WriteRegStr HKCU "Software\Classes\${PROG_ID}" "" "GGUF language model"
  WriteRegStr HKCU "Software\Classes\${PROG_ID}\DefaultIcon" "" "$INSTDIR\${APP_EXE},0"
  WriteRegStr HKCU "Software\Classes\${PROG_ID}\shell\open\command" "" '"$INSTDIR\${APP_EXE}" "%1"'
  WriteRegStr HKCU "Software\Classes\.gguf" "" "${PROG_ID}"
  WriteRegStr HKCU "Software\Classes\.gguf\OpenWithProgids" "${PROG_ID}" ""
  WriteRegStr HKCU "Software\Classes\Applications\${APP_EXE}\SupportedTypes" ".gguf" ""
  ; SHCNE_ASSOCCHANGED: tell Explorer to reread the associations now.
  System::Call 'shell32::SHChangeNotify(i 0x08000000, i 0, p 0, p 0)'
SectionEnd

Section "Uninstall"
  !insertmacro EnsureNotRunning
  Delete "$SMPROGRAMS\${APP_NAME}.lnk"
  Delete "$DESKTOP\${APP_NAME}.lnk"
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${APP_EXE}"
  Delete "$INSTDIR\${APP_ID}-cli.exe"
  Delete "$INSTDIR\uninstall.exe"

  ReadRegStr $0 HKCU "Software\Classes\.gguf" ""
  StrCmp $0 "${PROG_ID}" 0 +2
    DeleteRegValue HKCU "Software\Classes\.gguf" ""
  DeleteRegValue HKCU "Software\Classes\.gguf\OpenWithProgids" "${PROG_ID}"
  DeleteRegKey HKCU "Software\Classes\${PROG_ID}"
  DeleteRegKey HKCU "Software\Classes\Applications\${APP_EXE}"
  DeleteRegKey HKCU "${UNINSTALL_KEY}"
  DeleteRegKey HKCU "Software\${APP_ID}"
  System::Call 'shell32::SHChangeNotify(i 0x08000000, i 0, p 0, p 0)'

  ; Silent uninstalls (/S) keep the user's data.
  MessageBox MB_YESNO|MB_ICONQUESTION "$(KEEP_DATA)" /SD IDYES IDYES keep
    RMDir /r "${USER_DATA}"
    RMDir /r "$INSTDIR\portable-data"
    Delete "$INSTDIR\portable.txt"
  keep:
  RMDir "$INSTDIR"  ; only if empty: a kept portable-data folder stays
SectionEnd
