from django.contrib import admin

from .models import Credential

admin.site.register(Credential, admin.ModelAdmin)
