"""The moto launcher's parts: one module per AWS service whose moto model
it corrects, the layers it puts in front of moto (IAM, faults, the request
counter), and the table of corrections (`patches.PATCHES`)."""
