from django.contrib.auth.management.commands import createsuperuser


class Command(createsuperuser.Command):
    # Django looks for a taken username only when the field is unique on its own;
    # here uniqueness is case-insensitive (idx_users_username_upper), and without
    # this a taken name would end in an IntegrityError instead of a prompt.
    username_is_unique = True
