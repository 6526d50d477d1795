"""Acting on a plan: each step of it carried out against the adapters and recorded, so that an
interrupted run resumes and a second run finds nothing to do.
"""
