/* Test-only shim for running the project's Windows binaries under Wine 8.0.
 *
 * Rust's standard library (1.78 and later) draws its random numbers from ProcessPrng in
 * bcryptprimitives.dll, which Windows 10 and 11 have and Wine 8.0 does not: without it every .exe stops at
 * start. This DLL, put beside the .exe files only in the Wine test's folder (never in a package), exports
 * ProcessPrng over advapi32's RtlGenRandom (exported as SystemFunction036), which Wine has.
 * Built by scripts/windows.sh with x86_64-w64-mingw32-gcc. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x40000000 ? 0x40000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
