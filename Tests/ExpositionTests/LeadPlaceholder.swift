// placeholder until the module lands; the lead removes it
