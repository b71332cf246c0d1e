"""pallet's OCI runtime, as a library (`pallet.runtime.api`) and as `pallet-runtime` (runc's command line).

Kept empty on purpose: `pallet-runtime` imports only the verb it runs.
"""
